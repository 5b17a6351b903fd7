# SPDX-License-Identifier: GPL-2.0
#
# svgplot.awk - a small line chart in SVG, so the benchmark plots need
# nothing beyond POSIX awk (no gnuplot, no Python).
#
#   awk -v title=T [-v subtitle=S] -v xlabel=X -v ylabel=Y [-v xlog=1] \
#       [-v ylog=1] [-v yzero=1] -f svgplot.awk DATA > out.svg
#
# DATA: one point per line, "SERIES X Y" (blank-separated; SERIES has no
# blanks).  Series are drawn in order of first appearance, points in
# order of X.  xlog/ylog: logarithmic axis (values must be > 0).
# yzero: a linear Y axis starts at 0 (so ratios are not exaggerated).
# A series with a single X value is drawn as a dashed horizontal line
# across the chart (a baseline).

function tx(v) { return xlog ? log(v) / log(10) : v }
function ty(v) { return ylog ? log(v) / log(10) : v }
function px(v) { return L + (tx(v) - x0) / (x1 - x0) * W }
function py(v) { return T + H - (ty(v) - y0) / (y1 - y0) * H }
function esc(s) {
	gsub(/&/, "\\&amp;", s)
	gsub(/</, "\\&lt;", s)
	gsub(/>/, "\\&gt;", s)
	return s
}
# Human-readable tick label: 1000 -> 1k, 2500000 -> 2.5M.
function num(v,    a) {
	a = v < 0 ? -v : v
	if (a >= 1e6)
		return sprintf("%gM", v / 1e6)
	if (a >= 1e4)
		return sprintf("%gk", v / 1e3)
	return sprintf("%g", v)
}
# A "nice" step for about n ticks over span.
function nicestep(span, n,    raw, mag, f) {
	raw = span / n
	mag = exp(log(10) * int(log(raw) / log(10) + (raw < 1 ? -1 : 0)))
	f = raw / mag
	if (f <= 1) return mag
	if (f <= 2) return 2 * mag
	if (f <= 5) return 5 * mag
	return 10 * mag
}

BEGIN {
	# canvas and plot area
	CW = 720; CH = 450; L = 80; R = 190; T = 52; B = 60
	W = CW - L - R; H = CH - T - B
	split("#1f77b4 #d62728 #ff7f0e #2ca02c #9467bd #8c564b #e377c2 #17becf #7f7f7f", color, " ")
	ns = 0; np = 0
}
NF >= 3 {
	s = $1
	if (!(s in sidx)) {
		sidx[s] = ++ns
		sname[ns] = s
	}
	if ((xlog && $2 <= 0) || (ylog && $3 <= 0))
		next
	np++
	ps[np] = sidx[s]; pxv[np] = $2 + 0; pyv[np] = $3 + 0
}
END {
	if (!np) {
		print "svgplot.awk: no data for " title > "/dev/stderr"
		exit 1
	}
	# data ranges in transformed space
	x0 = x1 = tx(pxv[1]); y0 = y1 = ty(pyv[1])
	for (i = 1; i <= np; i++) {
		if (tx(pxv[i]) < x0) x0 = tx(pxv[i])
		if (tx(pxv[i]) > x1) x1 = tx(pxv[i])
		if (ty(pyv[i]) < y0) y0 = ty(pyv[i])
		if (ty(pyv[i]) > y1) y1 = ty(pyv[i])
	}
	if (!ylog && yzero && y0 > 0)
		y0 = 0
	if (ylog) {
		y0 = int(y0 - (y0 < 0 ? 1 : 0)); y1 = int(y1) + (y1 > int(y1) ? 1 : 0)
		if (y1 == y0) y1 = y0 + 1
	} else {
		if (y1 == y0) y1 = y0 + 1
		ystep = nicestep(y1 - y0, 6)
		y0 = int(y0 / ystep) * ystep - (y0 < 0 && y0 != int(y0 / ystep) * ystep ? ystep : 0)
		y1 = (int(y1 / ystep) + (y1 > int(y1 / ystep) * ystep ? 1 : 0)) * ystep
	}
	if (x1 == x0) { x0 -= 0.5; x1 += 0.5 }
	else { pad = (x1 - x0) * 0.03; x0 -= pad; x1 += pad }

	printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", CW, CH, CW, CH)
	printf("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", CW, CH)
	printf("<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", L, esc(title))
	if (subtitle != "")
		printf("<text x=\"%d\" y=\"38\" fill=\"#555\">%s</text>\n", L, esc(subtitle))

	# Y grid and ticks
	if (ylog) {
		for (e = y0; e <= y1; e++) {
			yy = T + H - (e - y0) / (y1 - y0) * H
			printf("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, yy, L + W, yy)
			printf("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, yy + 4, num(exp(log(10) * e)))
		}
	} else {
		for (v = y0; v <= y1 + ystep / 2; v += ystep) {
			yy = T + H - (v - y0) / (y1 - y0) * H
			printf("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, yy, L + W, yy)
			printf("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, yy + 4, num(v))
		}
	}
	# X ticks: every distinct X value (batch sizes, N) is labelled
	nx = 0
	for (i = 1; i <= np; i++)
		if (!(pxv[i] in xseen)) { xseen[pxv[i]] = 1; xv[++nx] = pxv[i] }
	for (i = 1; i <= nx; i++) {
		xx = px(xv[i])
		printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", xx, T, xx, T + H)
		printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", xx, T + H + 16, num(xv[i]))
	}
	printf("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", L, T, W, H)
	printf("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + W / 2, CH - 18, esc(xlabel))
	printf("<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">%s</text>\n", T + H / 2, T + H / 2, esc(ylabel))

	# series: points sorted by X (insertion sort: a handful of points)
	for (s = 1; s <= ns; s++) {
		c = color[(s - 1) % 9 + 1]
		n = 0
		for (i = 1; i <= np; i++)
			if (ps[i] == s) { n++; sx[n] = pxv[i]; sy[n] = pyv[i] }
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && sx[j - 1] > sx[j]; j--) {
				t = sx[j]; sx[j] = sx[j - 1]; sx[j - 1] = t
				t = sy[j]; sy[j] = sy[j - 1]; sy[j - 1] = t
			}
		if (n == 0)
			continue
		if (n == 1 && nx > 1) {
			# a single value: a dashed baseline across the chart
			printf("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n", L, py(sy[1]), L + W, py(sy[1]), c)
		} else {
			path = ""
			for (i = 1; i <= n; i++)
				path = path sprintf("%s%.1f,%.1f", i > 1 ? " L" : "M", px(sx[i]), py(sy[i]))
			printf("<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", path, c)
			for (i = 1; i <= n; i++)
				printf("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %s: %s</title></circle>\n", px(sx[i]), py(sy[i]), c, esc(sname[s]), num(sx[i]), sy[i])
		}
		# legend
		ly = T + 10 + (s - 1) * 20
		printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", L + W + 14, ly, L + W + 38, ly, c)
		printf("<text x=\"%d\" y=\"%d\">%s</text>\n", L + W + 44, ly + 4, esc(sname[s]))
	}
	print "</svg>"
}

"""Line charts as SVG for the compare-*.sh scripts: panels with a grid, ticks and labels, lines with dots (and
optional error bars), a legend, written atomically."""
import os


class Panel:
    """A plot area `width` × `height` at (`left`, `top`) showing x in `xs` = (lo, hi) and y in `ys` = (lo, hi)."""

    def __init__(self, left, top, width, height, xs, ys):
        self.left, self.top, self.width, self.height = left, top, width, height
        self.xs = xs if xs[1] > xs[0] else (xs[0], xs[0] + 1)
        self.ys = ys if ys[1] > ys[0] else (ys[0], ys[0] + 1)

    def px(self, x):
        return self.left + (x - self.xs[0]) / (self.xs[1] - self.xs[0]) * self.width

    def py(self, y):
        return self.top + (1 - (y - self.ys[0]) / (self.ys[1] - self.ys[0])) * self.height

    def axes(self, xticks, yticks, xlabel, ylabel=None, title=None):
        """Axis lines, grid lines at `yticks`, and the labels; ticks are (value, text) pairs."""
        l, r, b = self.left, self.left + self.width, self.top + self.height
        parts = [f'<line x1="{l}" y1="{b:.1f}" x2="{r}" y2="{b:.1f}" stroke="black"/>',
                 f'<line x1="{l}" y1="{b:.1f}" x2="{l}" y2="{self.top:.1f}" stroke="black"/>']
        for y, text in yticks:
            parts.append(f'<text x="{l - 6}" y="{self.py(y) + 4:.1f}" text-anchor="end">{text}</text>')
            parts.append(f'<line x1="{l}" y1="{self.py(y):.1f}" x2="{r}" y2="{self.py(y):.1f}" stroke="#ddd"/>')
        for x, text in xticks:
            parts.append(f'<text x="{self.px(x):.1f}" y="{b + 16:.1f}" text-anchor="middle">{text}</text>')
        parts.append(f'<text x="{l + self.width / 2:.1f}" y="{b + 40:.1f}" text-anchor="middle">{xlabel}</text>')
        if ylabel:
            cy = self.top + self.height / 2
            parts.append(f'<text x="{l - 46}" y="{cy:.1f}" transform="rotate(-90 {l - 46} {cy:.1f})" '
                         f'text-anchor="middle">{ylabel}</text>')
        if title:
            parts.append(f'<text x="{l + self.width / 2:.1f}" y="{self.top - 6:.1f}" text-anchor="middle">{title}</text>')
        return parts

    def line(self, points, color, bars=None):
        """A polyline through (x, y) points with a dot at each; `bars`, if given, one (low, high) per point."""
        parts = [f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                 + " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points) + '"/>']
        for i, (x, y) in enumerate(points):
            if bars:
                lo, hi = bars[i]
                parts.append(f'<line x1="{self.px(x):.1f}" y1="{self.py(lo):.1f}" x2="{self.px(x):.1f}" '
                             f'y2="{self.py(hi):.1f}" stroke="{color}"/>')
            parts.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" fill="{color}"/>')
        return parts


def ticks(lo, hi, count=5, fmt="{:.1f}"):
    """count + 1 evenly spaced (value, text) ticks from lo to hi."""
    return [(lo + i * (hi - lo) / count, fmt.format(lo + i * (hi - lo) / count)) for i in range(count + 1)]


def legend(x, y, items):
    """A swatch and a label per (label, color), one below the other from (x, y)."""
    parts = []
    for k, (label, color) in enumerate(items):
        parts.append(f'<rect x="{x}" y="{y + 18 * k}" width="12" height="3" fill="{color}"/>')
        parts.append(f'<text x="{x + 18}" y="{y + 4 + 18 * k}">{label}</text>')
    return parts


def write(path, width, height, parts):
    """The SVG document, written to path through path.partial."""
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>'] + parts + ["</svg>"]
    with open(path + ".partial", "w") as f:
        f.write("\n".join(svg) + "\n")
    os.replace(path + ".partial", path)

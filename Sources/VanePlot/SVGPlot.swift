import Foundation
import VaneModelIO

/// Line plots as standalone SVG: panels stacked vertically, each with its own axes, ticks and legend. NaN values
/// break a line. Enough for per-layer scores and sweeps; not a charting library.
public struct SVGPlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var values: [Double]
        public init(_ name: String, _ values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    public struct Panel: Sendable {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        public var x: [Double]
        public var series: [Series]
        public init(title: String, xLabel: String, yLabel: String, x: [Double], series: [Series]) {
            self.title = title
            self.xLabel = xLabel
            self.yLabel = yLabel
            self.x = x
            self.series = series
        }
    }

    public var panels: [Panel]
    public init(_ panels: [Panel]) { self.panels = panels }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]
    static let (width, panelHeight, left, right, top, bottom) = (640.0, 300.0, 70.0, 150.0, 36.0, 46.0)

    public func svg() -> String {
        let height = Double(panels.count) * Self.panelHeight
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(Self.width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (i, p) in panels.enumerated() { s += panel(p, y0: Double(i) * Self.panelHeight) }
        return s + "</svg>\n"
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(url) { try $0.write(contentsOf: Data(svg().utf8)) }
    }

    private func panel(_ p: Panel, y0: Double) -> String {
        let (x0, x1) = (Self.left, Self.width - Self.right)
        let (yTop, yBottom) = (y0 + Self.top, y0 + Self.panelHeight - Self.bottom)
        let xs = p.x.filter(\.isFinite)
        let ys = p.series.flatMap(\.values).filter(\.isFinite)
        let (xLo, xHi) = Self.range(xs), (yLo, yHi) = Self.range(ys)
        func px(_ v: Double) -> Double { x0 + (v - xLo) / (xHi - xLo) * (x1 - x0) }
        func py(_ v: Double) -> Double { yBottom - (v - yLo) / (yHi - yLo) * (yBottom - yTop) }
        var s = "<text x=\"\(f(x0))\" y=\"\(f(y0 + 22))\" font-size=\"14\" font-weight=\"bold\">\(escape(p.title))</text>\n"
        s += "<rect x=\"\(f(x0))\" y=\"\(f(yTop))\" width=\"\(f(x1 - x0))\" height=\"\(f(yBottom - yTop))\" fill=\"none\" stroke=\"#888\"/>\n"
        for t in Self.ticks(xLo, xHi) {
            s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(yBottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(yBottom + 4))\" stroke=\"#888\"/>"
            s += "<text x=\"\(f(px(t)))\" y=\"\(f(yBottom + 16))\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        for t in Self.ticks(yLo, yHi) {
            s += "<line x1=\"\(f(x0 - 4))\" y1=\"\(f(py(t)))\" x2=\"\(f(x1))\" y2=\"\(f(py(t)))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(f(x0 - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.label(t))</text>\n"
        }
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(yBottom + 34))\" text-anchor=\"middle\">\(escape(p.xLabel))</text>\n"
        s += "<text transform=\"translate(\(f(x0 - 52)),\(f((yTop + yBottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(p.yLabel))</text>\n"
        for (k, series) in p.series.enumerated() {
            let color = Self.colors[k % Self.colors.count]
            var path = "", pen = false
            for (x, y) in zip(p.x, series.values) {
                guard x.isFinite, y.isFinite else { pen = false; continue }
                path += "\(pen ? "L" : "M")\(f(px(x))),\(f(py(y))) "
                pen = true
                s += "<circle cx=\"\(f(px(x)))\" cy=\"\(f(py(y)))\" r=\"2.5\" fill=\"\(color)\"/>"
            }
            s += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"/>\n"
            let ly = yTop + 14 + Double(k) * 18
            s += "<line x1=\"\(f(x1 + 10))\" y1=\"\(f(ly - 4))\" x2=\"\(f(x1 + 28))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(f(x1 + 32))\" y=\"\(f(ly))\">\(escape(series.name))</text>\n"
        }
        return s
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func range(_ v: [Double]) -> (Double, Double) {
        guard let lo = v.min(), let hi = v.max() else { return (0, 1) }
        if lo == hi { return (lo - 1, hi + 1) }
        let pad = (hi - lo) * 0.05
        return (lo - pad, hi + pad)
    }

    /// About five round tick values inside [lo, hi], each an integer multiple of the step (so 0 is exactly 0,
    /// not the −5.6e-17 a running sum leaves).
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let first = ceil(lo / step), last = floor(hi / step)
        guard first <= last else { return [] }
        return (Int(first)...Int(last)).map { Double($0) * step }
    }

    static func label(_ v: Double) -> String {
        abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.1e", v)
            : String(format: "%g", (v * 1e6).rounded() / 1e6 + 0)   // + 0 turns −0 into 0: no "-0" label
    }
}

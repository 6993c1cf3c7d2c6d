import Foundation
import VaneModelIO

/// A grid of coloured cells as standalone SVG: rows top to bottom, columns left to right, a diverging scale
/// (blue below zero, white at zero, red above, symmetric about zero) with a colour bar. NaN cells stay grey.
public struct SVGHeatmap: Sendable {
    public var title: String
    public var rowLabel: String
    public var columnLabel: String
    public var rows: [String]
    public var columns: [String]
    /// values[row][column]
    public var values: [[Double]]

    public init(title: String, rowLabel: String, columnLabel: String, rows: [String], columns: [String], values: [[Double]]) {
        self.title = title
        self.rowLabel = rowLabel
        self.columnLabel = columnLabel
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public func svg() -> String {
        let cell = max(10.0, min(28.0, 560.0 / Double(max(columns.count, 1))))
        let cellH = max(8.0, min(20.0, 640.0 / Double(max(rows.count, 1))))
        let (left, top) = (64.0, 48.0)
        let gridW = cell * Double(columns.count), gridH = cellH * Double(rows.count)
        let width = left + gridW + 110, height = top + gridH + 46
        let limit = values.flatMap { $0 }.filter(\.isFinite).map(abs).max() ?? 1
        let scale = limit > 0 ? limit : 1
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left))\" y=\"22\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        for (r, row) in values.enumerated() {
            let y = top + Double(r) * cellH
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + cellH * 0.75))\" text-anchor=\"end\">\(escape(rows[r]))</text>"
            for (c, v) in row.enumerated() {
                s += "<rect x=\"\(f(left + Double(c) * cell))\" y=\"\(f(y))\" width=\"\(f(cell))\" height=\"\(f(cellH))\" fill=\"\(color(v / scale))\"><title>\(escape(rows[r])).\(escape(columns[c])): \(v)</title></rect>"
            }
            s += "\n"
        }
        for (c, name) in columns.enumerated() {
            s += "<text x=\"\(f(left + (Double(c) + 0.5) * cell))\" y=\"\(f(top + gridH + 14))\" text-anchor=\"middle\">\(escape(name))</text>"
        }
        s += "\n<text x=\"\(f(left + gridW / 2))\" y=\"\(f(top + gridH + 32))\" text-anchor=\"middle\">\(escape(columnLabel))</text>\n"
        s += "<text transform=\"translate(16,\(f(top + gridH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(rowLabel))</text>\n"
        // Colour bar: +limit at the top, −limit at the bottom.
        let barX = left + gridW + 24, steps = 40
        let barH = max(gridH, 80) / Double(steps)
        for i in 0..<steps {
            let v = 1 - 2 * (Double(i) + 0.5) / Double(steps)
            s += "<rect x=\"\(f(barX))\" y=\"\(f(top + Double(i) * barH))\" width=\"14\" height=\"\(f(barH + 0.5))\" fill=\"\(color(v))\"/>"
        }
        s += "\n<text x=\"\(f(barX + 18))\" y=\"\(f(top + 8))\">\(label(scale))</text>"
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + max(gridH, 80) / 2 + 4))\">0</text>"
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + max(gridH, 80)))\">\(label(-scale))</text>\n"
        return s + "</svg>\n"
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(url) { try $0.write(contentsOf: Data(svg().utf8)) }
    }

    /// t in [−1, 1] → blue … white … red.
    func color(_ t: Double) -> String {
        guard t.isFinite else { return "#cccccc" }
        let x = max(-1, min(1, t))
        let (r, g, b): (Double, Double, Double) = x >= 0
            ? (255, 255 - 200 * x, 255 - 215 * x)
            : (255 + 215 * x, 255 + 150 * x, 255)
        return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func label(_ v: Double) -> String { String(format: abs(v) >= 100 || abs(v) < 0.01 ? "%.2e" : "%.3g", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

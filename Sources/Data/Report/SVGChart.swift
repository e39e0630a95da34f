import Foundation

/// A minimal inline-SVG line chart with linear axes: the one chart of every HTML report (evaluation, load test,
/// simulation). No scripts, no fetches; every label is HTML-escaped.
public struct SVGChart {
    /// One line of the chart.
    public struct Series {
        var label: String
        var color: String
        var points: [(Double, Double)]
        var dashed = false
        var markers = false

        /// Creates a line: points in data units, a CSS colour and a legend label.
        public init(
            label: String, color: String, points: [(Double, Double)], dashed: Bool = false, markers: Bool = false
        ) {
            self.label = label
            self.color = color
            self.points = points
            self.dashed = dashed
            self.markers = markers
        }
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var xTicks: [(Double, String)]
    var yTicks: [(Double, String)]
    var xRange: ClosedRange<Double>
    var yRange: ClosedRange<Double>
    var series: [Series]
    var width = 640.0
    var height = 380.0

    /// Creates a chart; ticks are (value, label) pairs in data units.
    public init(
        title: String, xLabel: String, yLabel: String, xTicks: [(Double, String)], yTicks: [(Double, String)],
        xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, series: [Series], width: Double = 640,
        height: Double = 380
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
        self.yTicks = yTicks
        self.xRange = xRange
        self.yRange = yRange
        self.series = series
        self.width = width
        self.height = height
    }

    /// Rounds a positive axis maximum up to 1, 2, 2.5 or 5 times a power of ten (1 for zero, negative or NaN).
    public static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    /// A tick value as short text that never rounds two ticks to one label: a whole number as such, otherwise with
    /// the decimals it needs (up to `maxDigits`, trailing zeros dropped). `%.0f` labelled ticks at 0, 0.5, 1, 1.5
    /// and 2 as `0 0 1 2 2` (it rounds half to even).
    public static func tickLabel(_ value: Double, maxDigits: Int = 3) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(format: "%.0f", value) }
        var text = String(format: "%.\(maxDigits)f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Five evenly spaced ticks from 0 to `high` (the quarters), labelled with `label`.
    public static func quarterTicks(_ high: Double, label: (Double) -> String) -> [(Double, String)] {
        (0...4).map { i in
            let v = high * Double(i) / 4
            return (v, label(v))
        }
    }

    /// The `<svg>` element.
    public func svg() -> String {
        let (left, right, top, bottom) = (64.0, 150.0, 30.0, 48.0)
        let w = width - left - right
        let h = height - top - bottom
        func x(_ v: Double) -> Double { left + (v - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * w }
        func y(_ v: Double) -> Double {
            top + (1 - (min(v, yRange.upperBound) - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)) * h
        }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        s +=
            "<text x=\"\(n(left + w / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(HTML.escape(title))</text>\n"
        s +=
            "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"#fafafa\" stroke=\"#999\"/>\n"
        for (v, label) in xTicks {
            s += "<line x1=\"\(n(x(v)))\" y1=\"\(n(top))\" x2=\"\(n(x(v)))\" y2=\"\(n(top + h))\" stroke=\"#e3e3e3\"/>"
            s +=
                "<text x=\"\(n(x(v)))\" y=\"\(n(top + h + 14))\" text-anchor=\"middle\" font-size=\"10\">\(HTML.escape(label))</text>\n"
        }
        for (v, label) in yTicks {
            s +=
                "<line x1=\"\(n(left))\" y1=\"\(n(y(v)))\" x2=\"\(n(left + w))\" y2=\"\(n(y(v)))\" stroke=\"#e3e3e3\"/>"
            s +=
                "<text x=\"\(n(left - 6))\" y=\"\(n(y(v) + 3))\" text-anchor=\"end\" font-size=\"10\">\(HTML.escape(label))</text>\n"
        }
        s +=
            "<text x=\"\(n(left + w / 2))\" y=\"\(n(height - 10))\" text-anchor=\"middle\" font-size=\"12\">\(HTML.escape(xLabel))</text>\n"
        s +=
            "<text x=\"14\" y=\"\(n(top + h / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(n(top + h / 2)))\">\(HTML.escape(yLabel))</text>\n"
        for (i, line) in series.enumerated() {
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let ly = top + 14 + Double(i) * 18
            guard !line.points.isEmpty else {
                // A series with nothing to draw (an undefined curve) keeps its legend entry, whose label says why.
                s += "<text x=\"\(n(left + w + 12))\" y=\"\(n(ly + 4))\" font-size=\"11\" fill=\"#777\">\(HTML.escape(line.label))</text>\n"
                continue
            }
            let path = line.points.map { "\(n(x($0.0))),\(n(y($0.1)))" }.joined(separator: " ")
            s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            // One point draws no line: marked, so a one-window run's chart is not empty.
            if line.markers || line.points.count == 1 {
                for p in line.points {
                    s += "<circle cx=\"\(n(x(p.0)))\" cy=\"\(n(y(p.1)))\" r=\"3.5\" fill=\"\(line.color)\"/>"
                }
                s += "\n"
            }
            s +=
                "<line x1=\"\(n(left + w + 12))\" y1=\"\(n(ly))\" x2=\"\(n(left + w + 32))\" y2=\"\(n(ly))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>"
            s +=
                "<text x=\"\(n(left + w + 36))\" y=\"\(n(ly + 4))\" font-size=\"11\">\(HTML.escape(line.label))</text>\n"
        }
        return s + "</svg>\n"
    }
}

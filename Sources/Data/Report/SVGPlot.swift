import Foundation

/// Minimal inline-SVG line charts on the unit square, for self-contained HTML reports.
enum SVGPlot {
    /// One series: points in [0, 1]², a colour and a legend label.
    struct Series {
        var label: String
        var color: String
        var points: [(Double, Double)]
        var dashed = false
        var markers = false
    }

    /// Draws the series on [0, range]² (points are in data units).
    static func chart(
        title: String, xLabel: String, yLabel: String, series: [Series], range: Double = 1, size: Int = 320
    ) -> String {
        let pad = 44.0
        let side = Double(size) - 2 * pad + 20
        func x(_ v: Double) -> String { format(pad + v / range * side) }
        func y(_ v: Double) -> String { format(pad - 20 + (1 - v / range) * side) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(size + 120)" height="\(size + 20)" role="img" aria-label="\(escape(title))">
            <text x="\(x(range / 2))" y="16" text-anchor="middle" font-size="14" font-weight="bold">\(escape(title))</text>
            <rect x="\(x(0))" y="\(y(range))" width="\(format(side))" height="\(format(side))" fill="#fafafa" stroke="#999"/>

            """
        for tick in stride(from: 0.0, through: range * 1.0001, by: range / 4) {
            svg += """
                <line x1="\(x(tick))" y1="\(y(0))" x2="\(x(tick))" y2="\(y(range))" stroke="#e3e3e3"/>
                <line x1="\(x(0))" y1="\(y(tick))" x2="\(x(range))" y2="\(y(tick))" stroke="#e3e3e3"/>
                <text x="\(x(tick))" y="\(format(pad - 20 + side + 14))" text-anchor="middle" font-size="10">\(format(tick))</text>
                <text x="\(format(pad - 6))" y="\(y(tick))" text-anchor="end" dominant-baseline="middle" font-size="10">\(format(tick))</text>

                """
        }
        svg += """
            <text x="\(x(range / 2))" y="\(format(pad - 20 + side + 30))" text-anchor="middle" font-size="12">\(escape(xLabel))</text>
            <text x="12" y="\(y(range / 2))" text-anchor="middle" font-size="12" transform="rotate(-90 12 \(y(range / 2)))">\(escape(yLabel))</text>

            """
        for (index, s) in series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ")
            svg +=
                "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"5,4\"" : "") points=\"\(path)\"/>\n"
            if s.markers {
                for p in s.points { svg += "<circle cx=\"\(x(p.0))\" cy=\"\(y(p.1))\" r=\"3\" fill=\"\(s.color)\"/>\n" }
            }
            let ly = 40 + 18 * index
            svg +=
                "<line x1=\"\(format(pad + side + 8))\" y1=\"\(ly)\" x2=\"\(format(pad + side + 24))\" y2=\"\(ly)\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"5,4\"" : "")/>"
            svg +=
                "<text x=\"\(format(pad + side + 28))\" y=\"\(ly)\" dominant-baseline=\"middle\" font-size=\"11\">\(escape(s.label))</text>\n"
        }
        return svg + "</svg>"
    }

    static func format(_ v: Double) -> String { String(format: "%.4g", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

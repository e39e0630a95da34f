import RecData
import Testing

/// The one chart and the one HTML escape every report uses.
@Suite struct SVGChartTests {
    @Test func theEscapeReplacesTheFourSpecialCharactersOnce() {
        #expect(HTML.escape(#"a<b>&"c""#) == "a&lt;b&gt;&amp;&quot;c&quot;")
        #expect(HTML.escape("&amp;") == "&amp;amp;")
        #expect(HTML.escape("plain text") == "plain text")
    }

    @Test(arguments: [(0.0, 1.0), (-3, 1), (.nan, 1), (0.13, 0.2), (2.1, 2.5), (7, 10), (1000, 1000), (0.0042, 0.005)])
    func anAxisMaximumRoundsUpToANiceValue(value: Double, expected: Double) {
        #expect(abs(SVGChart.niceCeiling(value) - expected) < 1e-12)
    }

    @Test("tick labels never round two ticks to one label: 0, 0.5, 1, 1.5, 2 (not 0 0 1 2 2)")
    func tickLabelsKeepTheirDecimals() {
        #expect(SVGChart.quarterTicks(2) { SVGChart.tickLabel($0, maxDigits: 2) }.map(\.1) == ["0", "0.5", "1", "1.5", "2"])
        #expect(SVGChart.quarterTicks(3) { SVGChart.tickLabel($0, maxDigits: 2) }.map(\.1) == ["0", "0.75", "1.5", "2.25", "3"])
        #expect(SVGChart.quarterTicks(10) { SVGChart.tickLabel($0, maxDigits: 2) + "k" }.map(\.1) == ["0k", "2.5k", "5k", "7.5k", "10k"])
        #expect(SVGChart.tickLabel(0.025, maxDigits: 3) == "0.025" && SVGChart.tickLabel(0.1, maxDigits: 3) == "0.1")
    }

    @Test func quarterTicksRunFromZeroToTheMaximum() {
        let ticks = SVGChart.quarterTicks(8) { "\(Int($0))" }
        #expect(ticks.map(\.0) == [0, 2, 4, 6, 8])
        #expect(ticks.map(\.1) == ["0", "2", "4", "6", "8"])
    }

    /// A one-window `simulate --report` drew an empty chart: every series was a polyline of one point.
    @Test func aSeriesOfOnePointIsMarked() {
        let svg = SVGChart(
            title: "t", xLabel: "x", yLabel: "y", xTicks: [(0, "0"), (1, "1")], yTicks: [(0, "0")],
            xRange: 0...1, yRange: 0...1,
            series: [.init(label: "one", color: "#123", points: [(0.5, 0.5)])]
        ).svg()
        #expect(svg.contains("<circle") && svg.contains("fill=\"#123\""))
    }

    @Test func aChartEscapesItsTextAndDrawsOneLinePerNonEmptySeries() {
        let svg = SVGChart(
            title: "p99 <ms>", xLabel: "x & y", yLabel: "\"y\"", xTicks: [(0, "0"), (1, "1")], yTicks: [(0, "0")],
            xRange: 0...1, yRange: 0...1,
            series: [
                .init(label: "a<b", color: "#000", points: [(0, 0), (1, 1)], markers: true),
                .init(label: "empty", color: "#111", points: []),
            ]
        ).svg()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("p99 &lt;ms&gt;") && svg.contains("x &amp; y") && svg.contains("&quot;y&quot;"))
        #expect(svg.contains("a&lt;b") && !svg.contains("a<b"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 1)
        // The empty series draws nothing but keeps its legend entry (an undefined curve says why there).
        #expect(svg.contains(">empty</text>"))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
    }
}

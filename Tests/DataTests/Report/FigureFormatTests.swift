import Testing

@testable import RecData

/// A report printed an interval bound of −3.6e97 as a hundred digits next to its value in scientific notation.
@Suite("How reports print a figure")
struct FigureFormatTests {
    @Test("below 10¹² a figure keeps the caller's format; from 10¹² on it is scientific", arguments: [
        (0.29759, "%.5f", "0.29759"), (-1.5, "%.4f", "-1.5000"), (999_999_999_999, "%.1f", "999999999999.0"),
        (1e12, "%.5f", "1.000000e+12"), (-3.5914858698e97, "%.5f", "-3.591486e+97"), (2e110, "%.4f", "2.000000e+110"),
    ])
    func scientificFromAThreshold(value: Double, format: String, text: String) {
        #expect(FigureFormat.text(value, format) == text)
    }

    @Test("the evaluation page prints a huge interval bound as its value is printed")
    func htmlInterval() throws {
        var report = ModelEvaluationTests.report
        let estimate = try #require(report.offPolicy.segments[0].estimates.firstIndex { $0.value != nil })
        report.offPolicy.segments[0].estimates[estimate].value = -1.197162e97
        report.offPolicy.segments[0].estimates[estimate].interval = ConfidenceInterval(
            lower: -3.5914858698e97, upper: 0.29759, level: 0.95)
        let page = report.html()
        #expect(page.contains("-3.591486e+97"))
        #expect(page.range(of: #"[0-9]{13}"#, options: .regularExpression) == nil)
    }
}

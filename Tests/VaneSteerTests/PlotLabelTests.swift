import Foundation
import Testing
@testable import VanePlot

/// Axis ticks are exact multiples of the step, and no label reads "-0" (a tick at ceil(−0.66)·0.5 = −0.0 did).
@Suite struct PlotLabelTests {
    /// Expected by hand: range −0.33…0.9 → raw step 0.246 → step 0.5 → ticks 0 and 0.5.
    @Test func ticksAcrossZero() {
        #expect(SVGPlot.ticks(-0.33, 0.9) == [0, 0.5])
        #expect(SVGPlot.ticks(-0.33, 0.9).map(SVGPlot.label) == ["0", "0.5"])
        // −0.3 … 0.2 → step 0.1 → ticks −0.2 … 0.2; a running sum from −0.2 left 2.8e-17 where 0 belongs.
        #expect(SVGPlot.ticks(-0.3, 0.2).map(SVGPlot.label) == ["-0.2", "-0.1", "0", "0.1", "0.2"])
        #expect(SVGPlot.label(-0.0) == "0")
    }

    @Test func noMinusZeroInPlots() {
        let plot = SVGPlot([.init(title: "t", xLabel: "scale", yLabel: "v", x: [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3],
                                  series: [.init("s", [-0.01, 0, 0.02, 0, -0.03, 0.1, 0])])])
        #expect(!plot.svg().contains(">-0<") && plot.svg().contains(">0<"))
    }
}

import Foundation
import Testing
import VaneFuzz

/// Every committed fuzz input — the seeds and each crash libFuzzer found (regressions/) — runs once through its
/// target, so a fixed crash stays fixed. Inputs in open/ still crash (their bug is listed in RELIABILITY.md) and
/// are not run here. Serialized: the targets share the loaded model.
@Suite(.serialized) struct FuzzRegressionTests {
    @Test(arguments: FuzzTarget.allCases) func replay(_ target: FuzzTarget) throws {
        let inputs = ["seeds", "regressions"].flatMap { FuzzCorpus.files(in: FuzzCorpus.folder(target, $0)) }
        #expect(!inputs.isEmpty, "Tests/Fuzz/\(target.rawValue)/seeds is empty")
        for url in inputs {
            target.run(try Data(contentsOf: url))
        }
    }
}

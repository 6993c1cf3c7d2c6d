import ArgumentParser
import Foundation
import VaneBake
import VaneEdit
import VaneModelIO
import VaneSteer

extension Edit {
    struct AblateExperts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ablate-experts",
            abstract: "Zero chosen experts' down projections: the baked form of --steer-experts 'L:E:0' (stage weights).")

        @Argument(help: "A mixture-of-experts model (.gguf or HF folder).") var model: String
        @Option(help: "Experts to ablate: 'L:E,E', several separated by ';' (blocks from 0).") var experts: String
        @OptionGroup var out: ModelOutputOptions

        func run() throws {
            let input = try ModelInput(url: DefaultModel.resolve(model))
            let parsed = try ExpertSteering(parsing: experts.split(separator: ";").map { "\($0):0" }.joined(separator: ";"),
                                            stage: .weights)
            var chosen: [Int: [Int]] = [:]
            for term in parsed.terms { chosen[term.layer, default: []] += term.experts }
            try Bake.ablateExperts(input, experts: chosen, to: out.options(),
                                   provenance: ["edit.recipe": "ablate-experts", "edit.source": input.url.lastPathComponent,
                                                "edit.experts": experts, "edit.command": commandLine],
                                   progress: ProgressLine().report)
            wrote(out.output, "experts \(experts) ablated")
        }
    }
}

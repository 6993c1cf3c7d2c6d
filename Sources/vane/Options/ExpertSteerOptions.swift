import ArgumentParser
import VaneEngine
import VaneModelIO
import VaneSteer

/// Routing steering of mixture-of-experts models (ExpertSteering).
struct ExpertSteerOptions: ParsableArguments {
    @Option(help: "Multiply experts' routing weights: 'L:E,E:FACTOR', several separated by ';' (blocks from 0; factor 0 ablates).")
    var steerExperts: String?
    @Option(help: "Where: weights (after top-k and renormalisation; factor 0 = baked `edit ablate-experts`) or router (before top-k: the expert's softmax probability ×FACTOR, RICE's reinforcement).")
    var steerExpertsAt = "weights"

    func validate() throws {
        guard ExpertSteering.Stage(rawValue: steerExpertsAt) != nil else {
            throw ValidationError("--steer-experts-at \(steerExpertsAt): use weights or router")
        }
        if let steerExperts {
            do { _ = try ExpertSteering(parsing: steerExperts, stage: .weights) } catch let e as VaneError {
                throw ValidationError(e.description)
            }
        }
    }

    /// Registers the expert steering on `hooks`, when --steer-experts is given.
    func install(on hooks: Hooks, model: LanguageModel) throws {
        guard let steerExperts, let stage = ExpertSteering.Stage(rawValue: steerExpertsAt) else { return }
        try ExpertSteering(parsing: steerExperts, stage: stage).install(on: hooks, config: model.config)
    }
}

import ArgumentParser
import Foundation
import VaneEngine
import VaneSteer
import VaneModelIO

/// Steering options shared by `generate` and `steer-eval`.
struct SteerOptions: ParsableArguments {
    @Option(name: .customLong("steer"), parsing: .unconditionalSingleValue,
            help: "A control vector VECTOR.gguf[:SCALE][@layers=L,hook=H,positions=P,op=OP] (repeatable; scale 1 when omitted; settings after @ override the options below for this vector).")
    var steer: [String] = []
    @Option(name: .customLong("layers"), help: "Steer only these layers, e.g. 8-20 or 3,5,7 (default: all the vector has), for vectors without their own layers=.")
    var layers: String?
    @Option(help: "Where to steer: resid_post, resid_mid, attn_out or mlp_out (default: the vector's own hook), for vectors without hook=.")
    var steerHook: String?
    @Option(help: "Which positions: all, prompt, generated, or a segment trigger — inside:START,END (e.g. inside:<think>,</think>), after:TEXT (e.g. after:\\n\\n), first-of-segment:SEP — for vectors without positions=.")
    var steerPositions = "all"
    @Option(help: "add, ablate (project the direction out), clamp:VALUE (set the projection to VALUE) or rotate:DEG (turn toward the direction, norm kept), for vectors without op=.")
    var steerOp = "add"
    @Flag(help: "Rescale each steered activation to its norm before steering (repeng's normalize).")
    var normPreserve = false
    @Flag(help: "Use vectors made for another model (same width) anyway.") var force = false
    @Option(help: "Steer only generations whose prompt passes this condition (CAST): COND.gguf[@layer=L,threshold=T,comparator=ge|le] from `vane vector condition`; the vectors then steer generated positions only.")
    var steerIf: String?

    func validate() throws {
        if steerIf != nil && steer.isEmpty { throw ValidationError("--steer-if needs --steer: the condition decides whether those vectors apply") }
        do {
            if let steerIf { _ = try SteerCondition.parse(steerIf) }
            _ = try parsed()
        } catch let e as VaneError {
            throw ValidationError(e.description)
        }
    }

    private func parsed() throws -> (specs: [SteerSpec], defaults: SteerTerm.Defaults) {
        let positions: SteerPositions
        do { positions = try SteerPositions(parsing: steerPositions) } catch let e as VaneError {
            throw VaneError("--steer-positions: \(e.message)", hint: e.hint)
        }
        return (try steer.map(SteerSpec.init(parsing:)),
                SteerTerm.Defaults(layers: try layers.map(LayerList.parse), hook: try steerHook.map(SteerHook.init(parsing:)),
                                   positions: positions, op: try SteerOp(parsing: steerOp)))
    }

    /// The vector files --steer names, for checking outputs against inputs.
    func paths() throws -> [String] {
        try steer.map { try SteerSpec(parsing: $0).path } + (try steerIf.map { [try SteerCondition.parse($0).path] } ?? [])
    }

    /// The steering for `model`, each vector read and checked against it; nil without --steer.
    func steering(for model: LanguageModel) throws -> Steering? {
        let p = try parsed()
        guard !p.specs.isEmpty else { return nil }
        let identity = ModelIdentity(files: model.files)
        let terms = try p.specs.map { spec -> SteerTerm in
            let v = try ControlVector(contentsOf: URL(fileURLWithPath: spec.path))
            do { try v.check(against: identity, force: force) } catch let e as VaneError {
                throw VaneError("\(spec.path): \(e.message)", hint: e.hint)
            }
            return spec.term(v, defaults: p.defaults)
        }
        var gate: SteerGate?
        if let steerIf {
            gate = try SteerGate(steerIf)
            do { try gate!.vector.check(against: identity, force: force) } catch let e as VaneError {
                throw VaneError("--steer-if \(steerIf): \(e.message)", hint: e.hint)
            }
        }
        return Steering(terms: terms, normPreserve: normPreserve, gate: gate)
    }
}

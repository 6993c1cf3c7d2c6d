import Foundation
import Testing
import VaneActivations
import VaneTestSupport

/// The scale-out recipes in deploy/ (docs/scale-out.md): the Slurm scripts are valid bash and, run with the
/// variables Slurm sets, extract shards and merge them into one run's store; the Kubernetes manifests parse and
/// carry the fields the recipes rely on.
@Suite struct DeployFilesTests {
    static let deploy = Fixtures.url("../../deploy").standardizedFileURL

    @Test func slurmScriptsParse() throws {
        for name in ["extract-array.sbatch", "merge.sbatch", "submit.sh"] {
            let run = try VaneProcess.run("/bin/bash", ["-n", Self.deploy.appendingPathComponent("slurm/\(name)").path])
            #expect(run.status == 0, "bash -n \(name): \(run.output)")
        }
    }

    /// Array tasks 1…3 of a job array (SLURM_ARRAY_TASK_ID from 1, as `--array=1-3` sets it), then the merge job.
    @Test func slurmArrayAndMergeGiveTheSingleRun() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        guard let vane = VaneProcess.binary else { throw VaneProcess.VaneNotBuilt() }
        let model = Fixtures.url("tiny-llama").path
        let data = try folder.jsonl("data.jsonl", (0..<7).map { i in
            i % 3 == 0 ? ["positive": "good \(i)", "negative": "bad \(i)"] : ["prompt": "line \(i) of seven", "label": i % 2]
        })
        let options = ["--hooks", "blocks.*.hook_resid_post", "--positions", "all"]
        let outdir = folder.file("acts")
        func bash(_ script: String, _ arguments: [String], _ environment: [String: String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [Self.deploy.appendingPathComponent("slurm/\(script)").path] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(["VANE": vane.path]) { $1 }) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(script) \(environment): \(output)")
        }
        for task in 1...3 {
            try bash("extract-array.sbatch", [model, data.path, outdir.path] + options,
                     ["SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3",
                      "SLURM_CPUS_PER_TASK": "1"])
        }
        try bash("merge.sbatch", [outdir.path, "3"], [:])
        let single = folder.file("single.h5")
        let run = try VaneProcess.vane(["extract", model, data.path] + options + ["-o", single.path])
        #expect(run.status == 0, "\(run.output)")
        try ShardMergeTests.expectEqualStores(outdir.appendingPathComponent("acts.h5"), single)
    }

    static let manifestScript = #"""
import sys, yaml
folder = sys.argv[1]
errors = []
def load(name):
    return list(yaml.safe_load_all(open(f"{folder}/k8s/{name}")))
def env(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}
[job] = load("extract-job.yaml")
spec = job["spec"]
c = spec["template"]["spec"]["containers"][0]
if job["kind"] != "Job" or spec.get("completionMode") != "Indexed": errors.append("extract-job: not an Indexed Job")
if env(c).get("SHARDS") != str(spec["completions"]): errors.append("extract-job: SHARDS differs from completions")
script = " ".join(c["args"])
for part in ["JOB_COMPLETION_INDEX + 1", '--shard "$k/$SHARDS"', "--resume"]:
    if part not in script: errors.append(f"extract-job: script lacks {part}")
[merge] = load("merge-job.yaml")
m = merge["spec"]["template"]["spec"]["containers"][0]
if env(m).get("SHARDS") != str(spec["completions"]): errors.append("merge-job: SHARDS differs from the extraction's completions")
if "vane store merge" not in " ".join(m["args"]): errors.append("merge-job: no vane store merge")
deployment, service = load("serve.yaml")
if (deployment["kind"], service["kind"]) != ("Deployment", "Service"): errors.append("serve.yaml: expected a Deployment and a Service")
s = deployment["spec"]["template"]["spec"]["containers"][0]
if s["args"][0] != "serve": errors.append(f"serve.yaml: args start {s['args'][:1]}")
flags = [a for a in s["args"] if a.startswith("--")]
known = {"--host", "--port", "--vectors", "--max-batch", "--max-queue", "--max-tokens-limit", "--api-key", "--threads"}
if not set(flags) <= known: errors.append(f"serve.yaml: unknown flags {set(flags) - known}")
for probe in ["readinessProbe", "livenessProbe"]:
    if s.get(probe, {}).get("httpGet", {}).get("path") != "/health": errors.append(f"serve.yaml: {probe} is not GET /health")
if "requests" not in s.get("resources", {}): errors.append("serve.yaml: no resource requests")
if service["spec"]["selector"] != deployment["spec"]["selector"]["matchLabels"]: errors.append("serve.yaml: the Service does not select the Deployment's pods")
print("\n".join(errors) if errors else "OK")
sys.exit(1 if errors else 0)
"""#

    @Test(.enabled(if: (try? VaneProcess.run("/usr/bin/env", ["python3", "-c", "import yaml"]).status) == 0,
                   "python3 with PyYAML is not available (pip install pyyaml)"))
    func kubernetesManifestsParse() throws {
        let run = try VaneProcess.run("/usr/bin/env", ["python3", "-c", Self.manifestScript, Self.deploy.path])
        #expect(run.status == 0, "\(run.output)")
    }
}

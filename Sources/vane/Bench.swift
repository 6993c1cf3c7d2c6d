import ArgumentParser
import Foundation
import VaneEngine

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and generation speed, like llama-bench (pp / tg).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Prompt tokens processed in one batch (pp).") var promptTokens = 512
    @Option(help: "Tokens generated one at a time (tg).") var genTokens = 128
    @Option(help: "Runs of each test; the median is reported.") var repetitions = 3
    @Option(help: "Sequences generated together in tg (one forward call advances each by a token); t/s counts all.")
    var batch = 1
    @Flag(help: "Generation in f32 over dequantized weights instead of 8-bit activation dot products.") var exact = false
    @Flag(help: "Also time a draw at temperature 1 with no top-k, top-p or min-p (an OpenAI client's defaults) from the last generated logits: the sampler's lazy order against sorting the whole vocabulary.")
    var sampler = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard promptTokens >= 1, genTokens >= 1, repetitions >= 1, batch >= 1 else {
            throw ValidationError("--prompt-tokens, --gen-tokens, --repetitions and --batch must be at least 1")
        }
    }

    func run() throws {
        threads.apply()
        let m = try model.load()
        let t = m.transformer
        let precision: Precision = exact ? .exact : .fast
        // Token ids spread over the vocabulary, as llama-bench's random prompts are.
        let vocab = m.config.vocabSize
        let prompt = (0..<promptTokens).map { ($0 * 7919 + 13) % vocab }

        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var pp: [Double] = [], tg: [Double] = []
        var last: [Float] = []
        // One untimed pass first, as llama-bench's warm-up: pages the weights in and packs them for fast products.
        _ = try t.forward(prompt, cache: t.makeCache(capacity: promptTokens), logits: .last, precision: precision)
        for _ in 0..<repetitions {
            let cache = t.makeCache(capacity: promptTokens)
            pp.append(Double(promptTokens) / (try seconds { _ = try t.forward(prompt, cache: cache, logits: .last, precision: precision) }))
        }
        for _ in 0..<repetitions {
            let caches = (0..<batch).map { _ in t.makeCache(capacity: genTokens + 1) }
            var tokens = (0..<batch).map { ($0 * 7919 + 13) % vocab }
            tg.append(Double(batch * genTokens) / (try seconds {
                for _ in 0..<genTokens {
                    let logits = try t.forward(zip(tokens, caches).map { Transformer.BatchInput([$0], cache: $1) },
                                               logits: .last, precision: precision)
                    tokens = logits.map { Sampler.argmax($0.data) }
                    last = logits[0].data
                }
            }))
        }
        let ppMedian = pp.sorted()[pp.count / 2], tgMedian = tg.sorted()[tg.count / 2]
        // Microseconds per draw, median of 201; both samplers make the same draws (SamplerTests).
        func drawMicros(_ draw: (inout Sampler) -> Int) -> Double {
            var s = Sampler(SamplingOptions(temperature: 1))
            let times = (0..<201).map { _ in seconds { _ = draw(&s) } * 1e6 }
            return times.sorted()[times.count / 2]
        }
        let draws = sampler ? (drawMicros { $0.sample(last) }, drawMicros { $0.sampleNaive(last) }) : nil
        let rss = peakRSSBytes()
        if json {
            let sampling = draws.map { ", \"sample_us\": \($0.0), \"sample_full_sort_us\": \($0.1)" } ?? ""
            print("{\"pp_tokens_per_s\": \(ppMedian), \"tg_tokens_per_s\": \(tgMedian), \"peak_rss_bytes\": \(rss)\(sampling), "
                + "\"kernels\": \"\(Backend.kernels)\", \"blas_core\": \"\(Backend.blasCore)\"}")
        } else {
            let name = m.files.url.lastPathComponent
            print("| model | size | threads | test | t/s |")
            print("| --- | ---: | ---: | --- | ---: |")
            let size = formatBytes(m.files.fileBytes)
            print("| \(name) | \(size) | \(Parallel.threads) | pp\(promptTokens) | \(String(format: "%.2f ± %.2f", ppMedian, spread(pp))) |")
            let tgName = "tg\(genTokens)" + (batch > 1 ? " ×\(batch)" : "")
            print("| \(name) | \(size) | \(Parallel.threads) | \(tgName) | \(String(format: "%.2f ± %.2f", tgMedian, spread(tg))) |")
            print("peak RSS \(formatBytes(rss)), \(precision.rawValue) precision; kernels: \(Backend.kernels), OpenBLAS \(Backend.blasCore)")
            if let (lazy, full) = draws {
                print(String(format: "one draw at temperature 1 over %d ids: %.0f µs (sorting all of them first: %.0f µs)", last.count, lazy, full))
            }
        }
    }

    private func spread(_ xs: [Double]) -> Double {
        let mean = xs.reduce(0, +) / Double(xs.count)
        return (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(xs.count - 1, 1))).squareRoot()
    }
}

/// Peak resident set size of this process (getrusage reports KiB on Linux).
func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

import Foundation
import Prometheus

/// What GET /metrics reports, in Prometheus' text format: requests by endpoint and status, tokens in and out, the
/// queue, the batch's occupancy, and latency histograms (time to first token, whole request, one decoding step).
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let promptTokens: Counter
    let generatedTokens: Counter
    let rejected: Counter
    let cancelled: Counter
    let steps: Counter
    let queued: Gauge
    let batchSize: Gauge
    let maxBatch: Gauge
    let stepRows: ValueHistogram
    let stepSeconds: DurationHistogram
    let firstToken: DurationHistogram
    let requestSeconds: DurationHistogram

    static let latencyBuckets: [Duration] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
        .map { Duration.milliseconds(Int64($0 * 1000)) }

    init(maxBatch batch: Int) {
        promptTokens = registry.makeCounter(descriptor: describe("vane_prompt_tokens_total", "Prompt tokens processed."))
        generatedTokens = registry.makeCounter(descriptor: describe("vane_generated_tokens_total", "Tokens generated."))
        rejected = registry.makeCounter(descriptor: describe("vane_rejected_total", "Requests refused because the queue was full."))
        cancelled = registry.makeCounter(descriptor: describe("vane_cancelled_total", "Generations stopped because their client went away."))
        steps = registry.makeCounter(descriptor: describe("vane_decode_steps_total", "Batched forward steps run."))
        queued = registry.makeGauge(descriptor: describe("vane_queue_length", "Requests waiting for a place in the batch."))
        batchSize = registry.makeGauge(descriptor: describe("vane_batch_sequences", "Sequences in the running batch."))
        maxBatch = registry.makeGauge(descriptor: describe("vane_batch_capacity", "The batch's size limit (--max-batch)."))
        maxBatch.set(to: Double(batch))
        stepRows = registry.makeValueHistogram(descriptor: describe("vane_batch_occupancy", "Sequences per forward step."), buckets: [1, 2, 4, 8, 16, 32, 64],
                                              )
        stepSeconds = registry.makeDurationHistogram(descriptor: describe("vane_step_seconds", "Time of one batched forward step."), buckets: Self.latencyBuckets,
                                                    )
        firstToken = registry.makeDurationHistogram(descriptor: describe("vane_time_to_first_token_seconds", "From a request's arrival to its first generated text."), buckets: Self.latencyBuckets,
                                                   )
        requestSeconds = registry.makeDurationHistogram(descriptor: describe("vane_request_seconds", "From a request's arrival to its last byte."), buckets: Self.latencyBuckets,
                                                       )
    }

    /// Counts one answered request of `endpoint` with HTTP `status`.
    func request(_ endpoint: String, status: Int) {
        registry.makeCounter(descriptor: describe("vane_requests_total", "Requests answered, by endpoint and HTTP status."), labels: [("endpoint", endpoint), ("status", String(status))],
                            ).increment()
    }

    var text: String { registry.emitToString() }
}

/// A metric's name (units already in it, as Prometheus writes them: _total, _seconds) and help text.
private func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}

import Foundation
import VaneEngine
import VaneTensor

/// The model's one worker. HTTP handlers submit jobs from any task; a dedicated thread owns the BatchGenerator and,
/// between two decoding steps, drops cancelled and overdue sequences, admits queued generations while the batch
/// has room (continuous batching: sequences with different steering share a step, each with its own hooks) and
/// runs queued traces. Each job's events come back through its own AsyncStream.
///
/// Why a thread and not a task: a step is seconds of CPU work in C kernels that must not occupy one of Swift's
/// cooperative threads, which the HTTP server needs to keep serving.
final class Engine: @unchecked Sendable {
    enum Event: Sendable {
        /// Text of a generation, as it becomes final.
        case text(String)
        case finished(GenerationResult)
        /// A trace: each hook point's tensor [T, …] over the job's tokens.
        case traced([HookPoint: Tensor])
        case failed(APIError)
    }

    /// What a job asks for. Hooks are per job and touched only by the engine thread once submitted.
    enum Work {
        case generate(BatchGenerator.Request)
        case trace(tokens: [Int], points: [HookPoint])
    }

    final class Job: @unchecked Sendable {
        let number: Int
        let work: Work
        let deadline: Date
        let events: AsyncStream<Event>.Continuation

        init(number: Int, work: Work, deadline: Date, events: AsyncStream<Event>.Continuation) {
            self.number = number
            self.work = work
            self.deadline = deadline
            self.events = events
        }

        func end(_ event: Event) {
            events.yield(event)
            events.finish()
        }
    }

    let model: LanguageModel
    let maxBatch: Int
    let maxQueue: Int
    let timeout: Double
    let metrics: ServerMetrics

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Job] = []
    private var cancelled: Set<Int> = []
    private var accepting = true
    private var stopping = false
    private var running = 0
    private var nextNumber = 0
    private var thread: Thread?

    init(model: LanguageModel, maxBatch: Int, maxQueue: Int, timeout: Double, metrics: ServerMetrics) {
        self.model = model
        self.maxBatch = maxBatch
        self.maxQueue = maxQueue
        self.timeout = timeout
        self.metrics = metrics
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "vane-engine"
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a job; its events follow on the returned stream. Refused when the queue is full (429) or the server
    /// is draining (503).
    func submit(_ work: Work) throws(APIError) -> (number: Int, events: AsyncStream<Event>) {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw APIError.shuttingDown }
        // Waiting means beyond the batch's free places (the engine moves queued jobs in at its next step).
        guard queue.count < maxQueue + max(0, maxBatch - running) else {
            metrics.rejected.increment()
            throw APIError.queueFull(waiting: queue.count, retryAfter: 1)
        }
        let job = Job(number: nextNumber, work: work, deadline: Date().addingTimeInterval(timeout), events: continuation)
        nextNumber += 1
        queue.append(job)
        metrics.queued.set(to: Double(queue.count))
        condition.signal()
        return (job.number, events)
    }

    /// Stops a job (its client went away): a queued one leaves the queue, a running one the batch before the next
    /// step. Its stream ends without a result.
    func cancel(_ number: Int) {
        condition.lock()
        defer { condition.unlock() }
        if let i = queue.firstIndex(where: { $0.number == number }) {
            queue.remove(at: i).events.finish()
            metrics.queued.set(to: Double(queue.count))
        } else {
            cancelled.insert(number)
            condition.signal()
        }
    }

    /// Refuses new jobs and waits until every queued and running one has ended, or `seconds` have passed; the jobs
    /// left then end with "shutting down". The thread exits afterwards.
    func drain(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        accepting = false
        while !(queue.isEmpty && running == 0), condition.wait(until: deadline) {}
        stopping = true
        condition.broadcast()
        condition.unlock()
        while thread?.isFinished == false { usleep(5_000) }
    }

    private func loop() {
        let batch = BatchGenerator(model)
        var active: [BatchGenerator.ID: Job] = [:]
        while true {
            condition.lock()
            while queue.isEmpty && active.isEmpty && !stopping { condition.wait() }
            if stopping {
                let left = queue + Array(active.values)
                queue.removeAll()
                running = 0
                condition.broadcast()
                condition.unlock()
                for job in left { job.end(.failed(.shuttingDown)) }
                metrics.queued.set(to: 0)
                metrics.batchSize.set(to: 0)
                return
            }
            let gone = cancelled
            cancelled.removeAll()
            var admitted: [Job] = []
            var generations = active.count
            while let job = queue.first {
                if case .generate = job.work {
                    guard generations < maxBatch else { break }
                    generations += 1
                }
                admitted.append(queue.removeFirst())
            }
            metrics.queued.set(to: Double(queue.count))
            condition.unlock()

            let now = Date()
            for (id, job) in active where gone.contains(job.number) || now > job.deadline {
                batch.cancel(id)
                active[id] = nil
                if gone.contains(job.number) {
                    metrics.cancelled.increment()
                    job.events.finish()
                } else {
                    job.end(.failed(.timeout(seconds: timeout)))
                }
            }
            for job in admitted {
                if now > job.deadline {
                    job.end(.failed(.timeout(seconds: timeout)))
                    continue
                }
                switch job.work {
                case .trace(let tokens, let points):
                    job.end(trace(tokens, points))
                case .generate(let request):
                    do {
                        let id = try batch.add(promptTokens: request.promptTokens, options: request.options,
                                               hooks: request.hooks, onText: { job.events.yield(.text($0)) })
                        active[id] = job
                    } catch {
                        job.end(.failed(.invalid("\(error)")))
                    }
                }
            }
            setRunning(active.count)
            metrics.batchSize.set(to: Double(batch.count))
            guard !batch.isEmpty else { continue }
            do {
                let rows = batch.count
                let start = ContinuousClock.now
                for (id, result) in try batch.step() {
                    active.removeValue(forKey: id)?.end(.finished(result))
                }
                metrics.steps.increment()
                metrics.stepRows.record(Double(rows))
                metrics.stepSeconds.record(ContinuousClock.now - start)
            } catch {
                // A failed step leaves every cache behind the others: end all running sequences.
                for (id, job) in active {
                    batch.cancel(id)
                    job.end(.failed(.server("generation failed: \(error)")))
                }
                active.removeAll()
            }
            setRunning(active.count)
            metrics.batchSize.set(to: Double(batch.count))
        }
    }

    private func setRunning(_ count: Int) {
        condition.lock()
        running = count
        if count == 0 && queue.isEmpty { condition.broadcast() }
        condition.unlock()
    }

    /// One forward pass over `tokens` with captures at `points`, as `vane trace` runs it (exact products).
    private func trace(_ tokens: [Int], _ points: [HookPoint]) -> Event {
        do {
            let hooks = Hooks()
            let capture = Capture()
            capture.attach(to: hooks, points: points)
            _ = try model.transformer.forward(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                              hooks: hooks, logits: .none)
            return .traced(capture.tensors)
        } catch {
            return .failed(.invalid("\(error)"))
        }
    }
}

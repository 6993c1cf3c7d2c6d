/// Where a long job stands. Libraries never draw progress: a job takes a `progress: (ProgressEvent) -> Void`
/// callback, calls it on its own thread once before its first unit (done = what a resumed run already had) and
/// after each unit, and the caller decides what to show (the CLI draws a line on a terminal, nothing in a pipe).
public struct ProgressEvent: Sendable, Equatable {
    /// The job or its step: "merge", "extract", "thinkedit: generating".
    public var task: String
    /// Units (tensors, examples, generations, layers) done and in all.
    public var done: Int
    public var total: Int
    /// Bytes written so far and in all, for jobs that write tensors.
    public var bytes: Int?
    public var totalBytes: Int?
    /// Tokens run through the model so far, for jobs measured in tokens per second.
    public var tokens: Int?
    /// What the last unit was: a tensor name, "scale 2", "3 correct".
    public var note: String

    public init(task: String, done: Int, total: Int, bytes: Int? = nil, totalBytes: Int? = nil, tokens: Int? = nil,
                note: String = "") {
        self.task = task
        self.done = done
        self.total = total
        self.bytes = bytes
        self.totalBytes = totalBytes
        self.tokens = tokens
        self.note = note
    }
}

/// Receives progress of long work. The CLI draws it on a terminal; libraries and
/// tests pass nil.
public protocol ProgressSink: Sendable {
    func update(done: Int, total: Int, item: String)
    func finish()
}

/// An error whose description is a complete, user-facing one-line message
/// (naming the file, tensor or flag, and the fix). The CLI prints these as is.
public protocol UserFacingError: Error, CustomStringConvertible {}

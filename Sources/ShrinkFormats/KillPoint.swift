#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named points in Shrink's writers where the kill tests (Tests/ShrinkCLITests/KillTests.swift) stop a real
/// `shrink` process before they SIGKILL it, so a kill lands exactly before the first byte, between tensors,
/// before fsync and between fsync and rename, instead of wherever a timer happens to fall.
///
/// With `SHRINK_KILL_POINT=name` (or `name:n`, the n-th time that point is reached) the process creates the file
/// named by `SHRINK_KILL_POINT_READY` and then sleeps until it is killed. Without the variable, which is how
/// Shrink always runs outside those tests, `reach` is one comparison.
public enum KillPoint {
    /// The writers' points, in the order a write passes them.
    public static let names = [
        "safetensors.open", "safetensors.tensor", "safetensors.fsync", "safetensors.rename",
        "atomic.rename", "directory.commit", "directory.replaced",
    ]

    private static let armed: (name: String, count: Int, ready: String)? = {
        guard let raw = getenv("SHRINK_KILL_POINT"), let ready = getenv("SHRINK_KILL_POINT_READY") else { return nil }
        let spec = String(cString: raw)
        let parts = spec.split(separator: ":", maxSplits: 1)
        let count = parts.count == 2 ? Int(parts[1]) ?? 1 : 1
        return (String(parts.first ?? ""), count, String(cString: ready))
    }()

    nonisolated(unsafe) private static var reached = 0

    /// Called by a writer at the point `name` (one of `names`).
    @inline(__always)
    public static func reach(_ name: String) {
        guard let armed, armed.name == name else { return }
        stop(armed)
    }

    private static func stop(_ armed: (name: String, count: Int, ready: String)) {
        reached += 1
        guard reached == armed.count else { return }
        let fd = open(armed.ready, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 { close(fd) }
        while true { pause() }
    }
}

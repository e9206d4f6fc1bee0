#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a hidden staging name beside its destination (`.<name>.partial-<pid>`, which the next
/// writer of the same output removes when its process is gone) and renamed over it once complete and synced:
/// the machinery the streaming writers share, so the final name never holds a partial file. Dropped without
/// `commit`, it removes its staging file. `killPoint` names the `KillPoint`s of its steps (`<name>.open`,
/// `<name>.fsync`, `<name>.rename`).
final class StagedFile {
    let path: String
    private let temporaryPath: String
    private let killPoint: String
    private var fd: Int32
    private var finished = false

    init(path: String, killPoint: String) throws {
        self.path = path
        self.killPoint = killPoint
        FileSystem.removeStaleStaging(of: path)
        temporaryPath = FileSystem.directoryOf(path) + "/." + FileSystem.lastComponent(path) + ".partial-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError.outputNotWritable(path: path, reason: FileSystem.errorText(errno)) }
        KillPoint.reach(killPoint + ".open")
    }

    deinit { if !finished { abandon() } }

    /// Appends all of `buffer` (retrying short and interrupted writes).
    func write(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            #else
            let n = Darwin.write(fd, buffer.baseAddress! + done, buffer.count - done)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError.writeFailed(path: path, reason: FileSystem.errorText(errno))
            }
            done += n
        }
    }

    /// Syncs the staging file to disk and renames it over the destination.
    func commit() throws {
        KillPoint.reach(killPoint + ".fsync")
        guard fsync(fd) == 0 else {
            let e = errno
            abandon()
            throw FormatError.writeFailed(path: path, reason: FileSystem.errorText(e))
        }
        close(fd)
        fd = -1
        KillPoint.reach(killPoint + ".rename")
        finished = true
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            throw FormatError.outputNotWritable(path: path, reason: FileSystem.errorText(e))
        }
    }

    /// Closes and removes the staging file.
    func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        finished = true
    }
}

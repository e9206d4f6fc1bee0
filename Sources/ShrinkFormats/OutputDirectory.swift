#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CShrinkKernels

/// A directory of outputs that appears all at once: files are written into a
/// hidden sibling staging directory (`.<name>.partial-<pid>`), which `commit()` renames to the final path.
/// Dropped without commit, the staging directory is removed; one left by a killed process is removed by the
/// next writer of the same output (`FileSystem.removeStaleStaging`). An existing output (`--force`) is
/// exchanged with the new one in one step (renameat2 RENAME_EXCHANGE), so a kill at any moment leaves the
/// final path holding either the whole old output or the whole new one.
public final class OutputDirectory {
    public let finalPath: String
    /// Where to write the files.
    public let path: String
    private var committed = false
    private let overwrite: Bool

    public init(path finalPath: String, overwrite: Bool) throws {
        let trimmed = finalPath.count > 1 && finalPath.hasSuffix("/") ? String(finalPath.dropLast()) : finalPath
        self.finalPath = trimmed
        self.overwrite = overwrite
        var isDir = false
        if FileSystem.exists(trimmed, isDirectory: &isDir) {
            if !isDir { throw FormatError.outputNotWritable(path: trimmed, reason: "a file with this name exists; the output is a directory") }
            if !overwrite && !FileSystem.list(trimmed).isEmpty {
                throw FormatError.outputNotWritable(path: trimmed, reason: "directory exists and is not empty; pass --force to replace it")
            }
        }
        let parent = FileSystem.directoryOf(trimmed)
        try FileSystem.makeDirectories(parent, for: trimmed)
        path = parent + "/." + FileSystem.lastComponent(trimmed) + ".partial-\(getpid())"
        FileSystem.removeStaleStaging(of: trimmed)
        Self.removeFlat(path)
        guard mkdir(path, 0o755) == 0 else {
            throw FormatError.outputNotWritable(path: trimmed, reason: FileSystem.errorText(errno))
        }
    }

    deinit { if !committed { Self.removeFlat(path) } }

    public func commit() throws {
        KillPoint.reach("directory.commit")
        if FileSystem.isDirectory(finalPath) && !FileSystem.list(finalPath).isEmpty {
            // Exchange old and new in one step; the old output then sits at the staging path and is removed.
            let e = sk_rename_exchange(path, finalPath)
            if e == 0 {
                committed = true
                KillPoint.reach("directory.replaced")
                Self.removeFlat(path)
                return
            }
            guard e == ENOSYS || e == EINVAL else {
                throw FormatError.outputNotWritable(path: finalPath, reason: FileSystem.errorText(e))
            }
            // No exchange on this file system: move the old output aside first so the new one never mixes with
            // it (a kill between the two renames leaves the old output whole at `<staging>.old`).
            let old = path + ".old"
            Self.removeFlat(old)
            guard rename(finalPath, old) == 0 else {
                throw FormatError.outputNotWritable(path: finalPath, reason: FileSystem.errorText(errno))
            }
            defer { Self.removeFlat(old) }
            guard rename(path, finalPath) == 0 else {
                let e = errno
                _ = rename(old, finalPath)
                throw FormatError.outputNotWritable(path: finalPath, reason: FileSystem.errorText(e))
            }
        } else {
            if FileSystem.isDirectory(finalPath) { rmdir(finalPath) }
            guard rename(path, finalPath) == 0 else {
                throw FormatError.outputNotWritable(path: finalPath, reason: FileSystem.errorText(errno))
            }
        }
        committed = true
    }

    /// Removes a directory of plain files (Shrink's outputs are never nested).
    static func removeFlat(_ dir: String) {
        guard FileSystem.isDirectory(dir) else { return }
        for f in FileSystem.list(dir) { unlink(dir + "/" + f) }
        rmdir(dir)
    }
}

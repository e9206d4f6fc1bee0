import ArgumentParser
import Foundation
import ShrinkTensor

// Errors from Shrink's libraries already name the file, tensor or flag and the
// fix: print them as one line. Argument errors keep ArgumentParser's usage text.
MemoryTuning.reuseLargeAllocations()
do {
    var command = try Shrink.parseAsRoot()
    try command.run()
} catch let error as UserFacingError {
    FileHandle.standardError.write(Data("shrink: error: \(error.description)\n".utf8))
    exit(1)
} catch {
    Shrink.exit(withError: error)
}

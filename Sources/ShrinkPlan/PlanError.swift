import ShrinkTensor

public enum PlanError: UserFacingError, Equatable {
    case badProfile(file: String, field: String, reason: String)
    case unknownDevice(name: String, known: [String])
    case badRequest(flag: String, reason: String)
    /// A stack manifest (`shrink plan --stack`): the file, the field's path (components[1].recipe.bits) and what is wrong.
    case badStack(file: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .badProfile(f, field, r): "\(f): device profile field '\(field)' \(r)"
        case let .unknownDevice(n, k): "--device \(n) is neither a built-in profile (\(k.joined(separator: ", "))) nor a readable JSON file"
        case let .badRequest(flag, r): "\(flag) \(r)"
        case let .badStack(f, field, r): "\(f): stack manifest field '\(field)' \(r)"
        }
    }
}

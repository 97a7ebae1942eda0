import Synchronization

/// Decides sign-ins: the password, and the lockout after repeated failures.
///
/// Every attempt costs one bcrypt check, whether the name exists, is locked
/// or not, so neither the answer nor its time tells which. Failures of
/// names that are no web user are counted in memory the same way, so
/// an unknown name locks too and cannot be told from a known one by that.
public final class SignInGuard: Sendable {
    public enum Outcome: Equatable, Sendable {
        case signedIn(String)
        /// Wrong name or password, or locked: one answer for all three.
        case refused
        /// Too many sign-ins at once (PasswordCheckGate): nothing was
        /// checked or counted; the same for every name.
        case busy
    }

    private let users: WebUserStore
    private let maxFailures: Int
    private let lockoutUs: Int64
    private let standInHash: String
    /// Failures and locks of names that are no web user, bounded.
    private let unknown = Mutex<[String: (failures: Int, lockedUntil: Int64)]>([:])
    private let serial = Mutex(())
    private let checks: PasswordCheckGate

    public init(users: WebUserStore, maxFailures: Int, lockoutSeconds: Int64, bcryptCost: UInt8,
                checks: PasswordCheckGate = .forThisMachine()) {
        self.users = users
        self.checks = checks
        self.maxFailures = max(1, maxFailures)
        self.lockoutUs = max(1, lockoutSeconds).multipliedReportingOverflow(by: 1_000_000).partialValue
        // A hash of a random password: nothing signs in against it.
        standInHash = Passwords.hash(Tokens.random(bytes: 16), cost: bcryptCost)
    }

    public func attempt(name: String, password: String) async throws -> Outcome {
        let user = WebUserStore.isValidName(name) ? try users.user(named: name) : nil
        guard let passwordOK = await Passwords.verify(password, hash: user?.passwordHash ?? standInHash, through: checks)
        else { return .busy }
        let now = nowMicros()
        return try serial.withLock { _ in
            if let user, let current = try users.user(named: user.name) {
                if current.lockedUntilUnixUs > now { return .refused }
                if passwordOK && current.passwordHash == user.passwordHash {
                    try users.recordSuccess(name: user.name)
                    return .signedIn(user.name)
                }
                let (failures, lockedUntil) = next(failures: current.failures, now: now)
                try users.recordFailure(name: user.name, failures: failures, lockedUntil: lockedUntil)
                return .refused
            }
            unknown.withLock { table in
                let key = String(name.prefix(64))
                let entry = table[key] ?? (0, 0)
                if entry.lockedUntil > now { return }
                if table.count >= 10_000 { table = table.filter { $0.value.lockedUntil > now } }
                if table.count >= 10_000 { table.removeAll() }
                table[key] = next(failures: entry.failures, now: now)
            }
            return .refused
        }
    }

    /// After a failure: the count, and the lock it reaches (the count starts over).
    private func next(failures: Int, now: Int64) -> (Int, Int64) {
        let count = failures + 1
        return count >= maxFailures ? (0, now.addingReportingOverflow(lockoutUs).partialValue) : (count, 0)
    }
}

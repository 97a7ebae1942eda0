import Dispatch
import HummingbirdBcrypt

/// bcrypt (HummingbirdBcrypt). One check takes a quarter of a second at
/// cost 12: checks run off the server's threads, through PasswordCheckGate.
public enum Passwords {
    public static let costs: ClosedRange<UInt8> = 4...16

    public static func hash(_ password: String, cost: UInt8) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    /// nil when the gate's waiting line is full (no check ran).
    static func verify(_ password: String, hash: String, through gate: PasswordCheckGate) async -> Bool? {
        await gate.run { Bcrypt.verify(password, hash: hash) }
    }
}

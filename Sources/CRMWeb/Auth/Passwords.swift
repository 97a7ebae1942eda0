import Dispatch
import HummingbirdBcrypt

/// bcrypt (HummingbirdBcrypt), off the server's threads: one check takes
/// a quarter of a second at cost 12, which must not stall other requests.
public enum Passwords {
    public static let costs: ClosedRange<UInt8> = 4...16

    public static func hash(_ password: String, cost: UInt8) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    static func verify(_ password: String, hash: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Bcrypt.verify(password, hash: hash))
            }
        }
    }
}

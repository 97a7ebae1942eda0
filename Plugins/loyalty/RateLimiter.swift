import CRMPluginKit
import Foundation

/// Per-caller token buckets for gift-card code lookups, in memory: reads
/// cannot write, and a guesser is slowed just as well by a limit that a
/// restart resets. `code_lookups_per_second` (default 5) refills each
/// caller's bucket of `code_lookup_burst` (default 20) tokens; a lookup
/// without a token is RESOURCE_EXHAUSTED. Every lookup by code counts, a
/// successful one too, so a hit cannot be told from a miss by the limit.
final class RateLimiter: @unchecked Sendable {
    static let codeLookups = RateLimiter()

    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, at: Double)] = [:]

    func take(_ ctx: CallContext) throws {
        let rate = max(0.001, Double(ctx.host.config("code_lookups_per_second") ?? "") ?? 5)
        let burst = max(1, Double(ctx.host.config("code_lookup_burst") ?? "") ?? 20)
        let caller = callerName(ctx)
        let now = Date().timeIntervalSince1970
        let allowed: Bool = lock.withLock {
            if buckets.count > 100_000 { buckets.removeAll() }  // bounded memory under a flood of callers
            var bucket = buckets[caller] ?? (burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            let ok = bucket.tokens >= 1
            if ok { bucket.tokens -= 1 }
            buckets[caller] = bucket
            return ok
        }
        guard allowed else {
            throw PluginError(.resourceExhausted, "too many gift card code lookups by \(caller); retry later")
        }
    }
}

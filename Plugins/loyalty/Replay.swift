import CRMPluginKit
import Foundation
import SwiftProtobuf

/// Idempotency for every money- or points-moving method: the key is
/// required, bound to a fingerprint of the request and of the caller, and
/// the first answer is stored with it in the call's transaction (both
/// commit or neither), so a retry gets that answer byte for byte and moves
/// nothing. The same key with another request, or from another caller, is
/// FAILED_PRECONDITION (as the kit's IdempotencyKeys and Stripe do).
enum Replay {
    static func run<Request: Message, Response: Message>(
        _ ctx: CallContext, _ method: String, _ request: Request, key: WritableKeyPath<Request, String>,
        sealed: Bool = false, _ body: (Database) throws -> Response
    ) throws -> Response {
        let value = request[keyPath: key]
        guard !value.trimmedSpaces.isEmpty else { throw PluginError.invalidArgument("idempotency_key is required") }
        guard value.utf8.count <= 200 else { throw PluginError.invalidArgument("idempotency_key is longer than 200 bytes") }
        let db = try ctx.database
        let fingerprint = try Self.fingerprint(ctx, request, key: key)
        if let row = try db.query("SELECT fingerprint, response, sealed FROM loyalty_idempotency WHERE method = ? AND key = ?",
                                  [.text(method), .text(value)]).first {
            guard row[0].bytes == fingerprint else { throw IdempotencyKeys.mismatch(method: method, key: value) }
            var bytes = row[1].bytes ?? []
            if row.int(2) != 0 { bytes = try Sealing.open(bytes, key: try Secrets.key(ctx, db)) }
            return try Response(serializedBytes: bytes)
        }
        let response = try body(db)
        var bytes: [UInt8] = try response.serializedBytes()
        if sealed { bytes = Sealing.seal(bytes, key: try Secrets.key(ctx, db)) }
        try db.execute("""
            INSERT INTO loyalty_idempotency (method, key, fingerprint, response, sealed, created_us) VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(method), .text(value), .blob(fingerprint), .blob(bytes), .integer(sealed ? 1 : 0),
                  .integer(UTCClock.nowMicros())])
        return response
    }

    /// SHA-256 over the caller's name and the request without its key.
    static func fingerprint<Request: Message>(_ ctx: CallContext, _ request: Request,
                                              key: WritableKeyPath<Request, String>) throws -> [UInt8] {
        let caller = Array(callerName(ctx).utf8)
        return SHA256.hash(caller + [0] + (try IdempotencyKeys.fingerprint(request, key: key)))
    }
}

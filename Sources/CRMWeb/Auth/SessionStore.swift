import Synchronization

/// A signed-in browser: the web user and its CSRF token.
public struct WebSession: Sendable {
    public let id: String
    public let user: String
    /// Every form and state-changing request carries it back.
    public let csrfToken: String
    public let createdUnixUs: Int64
    public var lastSeenUnixUs: Int64
}

/// Sessions on the server, in memory: the cookie holds a random 256-bit id
/// and nothing else. A restart of crm-web signs everyone out.
public final class SessionStore: Sendable {
    private let sessions = Mutex<[String: WebSession]>([:])
    private let idleUs: Int64
    private let maxUs: Int64

    public init(idleSeconds: Int64, maxSeconds: Int64) {
        idleUs = max(1, idleSeconds).multipliedReportingOverflow(by: 1_000_000).partialValue
        maxUs = max(1, maxSeconds).multipliedReportingOverflow(by: 1_000_000).partialValue
    }

    /// A new session for `user`, with a fresh id (never one the browser brought).
    public func create(user: String, now: Int64 = nowMicros()) -> WebSession {
        let session = WebSession(id: Tokens.random(), user: user, csrfToken: Tokens.random(),
                                 createdUnixUs: now, lastSeenUnixUs: now)
        sessions.withLock { table in
            table = table.filter { !expired($0.value, now) }
            table[session.id] = session
        }
        return session
    }

    /// The live session with this id, its idle clock restarted; nil when
    /// there is none or it expired (idle, or past its absolute lifetime).
    public func session(id: String, now: Int64 = nowMicros()) -> WebSession? {
        guard Tokens.isWellFormed(id) else { return nil }
        return sessions.withLock { table in
            guard var session = table[id] else { return nil }
            if expired(session, now) {
                table[id] = nil
                return nil
            }
            session.lastSeenUnixUs = now
            table[id] = session
            return session
        }
    }

    public func remove(id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    private func expired(_ session: WebSession, _ now: Int64) -> Bool {
        now.subtractingReportingOverflow(session.lastSeenUnixUs).partialValue > idleUs
            || now.subtractingReportingOverflow(session.createdUnixUs).partialValue > maxUs
    }
}

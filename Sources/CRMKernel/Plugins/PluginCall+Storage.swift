import CRMPluginABI
import Foundation
import NIOCore

/// How a call meets the database: a writing method runs inside the writer's
/// transaction (its own, or its in-process caller's), any other method gets
/// a reader snapshot on first use.
extension PluginCall {
    /// Runs the handler with storage set up and torn down around it.
    func runWithStorage(request: UnsafeRawBufferPointer) -> Int32 {
        guard let storage = HostAPI.storage else { return run(request: request) }
        if parentWriterSession != nil || method.writes {
            var status: Int32 = 0
            let body = { (session: StorageSession) -> Bool in
                self.startAttempt(session)
                status = self.finishAudit(self.run(request: request), session)
                return status == 0
            }
            // In-process calls from a writing handler join its transaction:
            // both commit or neither does.
            let outcome = parentWriterSession != nil
                ? storage.writer.nested(plugin: method.plugin.name, body)
                : storage.writer.write(plugin: method.plugin.name, body)
            return finish(outcome, handlerStatus: status)
        }
        defer {
            if let session {
                storage.readers.checkin(session)
                self.session = nil
            }
        }
        return run(request: request)
    }

    /// Queues a writing unary call on the writer without blocking this
    /// thread; `done` gets the call's status on the writer thread once its
    /// group has committed (or failed).
    func submitWrite(request: ByteBuffer, to storage: Storage, done: @escaping (Int32) -> Void) {
        let result = HandlerStatus()
        storage.writer.submit(plugin: method.plugin.name, { session in
            // Queued past its deadline or cancelled meanwhile: do not run it.
            if self.isCancelled {
                result.status = Int32(CRM_STATUS_CANCELLED.rawValue)
                return false
            }
            self.startAttempt(session)
            result.status = self.finishAudit(request.withUnsafeReadableBytes { self.run(request: $0) }, session)
            return result.status == 0
        }, done: { outcome in
            done(self.finish(outcome, handlerStatus: result.status))
        })
    }

    /// A write body may run twice (its group could not commit): each run
    /// starts with no response of an earlier one.
    private func startAttempt(_ session: StorageSession) {
        self.session = session
        session.owner = self
        response = []
        statusMessage = ""
    }

    /// Every writing call leaves an audit entry: one that succeeded, changed
    /// rows and recorded none gets one naming only the method, in its own
    /// transaction (a failure to write it fails the call).
    private func finishAudit(_ status: Int32, _ session: StorageSession) -> Int32 {
        guard status == 0 else { return status }
        do {
            try AuditWriter.implicitEntry(for: self, in: session)
            return 0
        } catch let error as SessionError {
            return storageFailed(error)
        } catch {
            return storageFailed(SessionError(status: CRM_STATUS_INTERNAL, message: "\(error)"))
        }
    }

    private func finish(_ outcome: WriteCoordinator.Outcome, handlerStatus: Int32) -> Int32 {
        session = nil
        switch outcome {
        case .committed, .rolledBack: return handlerStatus
        case .failed(let error):
            statusMessage = error.message
            return Int32(error.status.rawValue)
        }
    }

    /// The session to use now: the one set up for this call, or a reader
    /// snapshot taken on first use.
    func storageSession() throws -> StorageSession {
        if let session { return session }
        guard let storage = HostAPI.storage else {
            throw SessionError(status: CRM_STATUS_UNAVAILABLE, message: "this crmd has no storage")
        }
        let session = storage.readers.checkout(plugin: method.plugin.name)
        self.session = session
        return session
    }

    /// The caller's writing session, when an in-process caller is writing.
    private var parentWriterSession: StorageSession? {
        guard let parentSession = parent?.session, parentSession.writable else { return nil }
        return parentSession
    }
}

/// The handler's status, carried from the body to the completion (both on the writer thread).
private final class HandlerStatus: @unchecked Sendable {
    var status: Int32 = 0
}

import CRMPluginABI
import Foundation

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
                self.session = session
                status = self.run(request: request)
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

import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public typealias SInboundEmail = Crm_Service_V1_InboundEmail

/// Typed calls to service's Mailbox over the socket, for tests.
public struct MailClient {
    public let connection: Connection
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call("/crm.service.v1.Mailbox/" + method, request, as: Response.self, metadata: metadata)
    }

    @discardableResult
    public func ingest(_ raw: String, recipient: String = "") async throws -> Crm_Service_V1_IngestEmailResponse {
        try await call("IngestEmail", Crm_Service_V1_IngestEmailRequest.with {
            $0.raw = Data(raw.utf8)
            $0.recipient = recipient
        })
    }

    public func list(ticket: Int64 = 0, outcome: Crm_Service_V1_InboundOutcome = .unspecified, pageSize: Int32 = 0,
                     token: String = "") async throws -> Crm_Service_V1_ListInboundEmailsResponse {
        try await call("ListInboundEmails", Crm_Service_V1_ListInboundEmailsRequest.with {
            $0.ticketID = ticket
            $0.outcome = outcome
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func get(_ id: Int64) async throws -> SInboundEmail {
        try await call("GetInboundEmail", Crm_Service_V1_GetInboundEmailRequest.with { $0.id = id })
    }

    public func prepareReply(_ message: Int64) async throws -> Crm_Service_V1_ReplyEmail {
        try await call("PrepareReplyEmail", Crm_Service_V1_PrepareReplyEmailRequest.with { $0.ticketMessageID = message })
    }

    @discardableResult
    public func setMailbox(_ address: String, team: String = "", priority: Crm_Service_V1_Priority = .unspecified,
                           type: Crm_Service_V1_TicketType = .unspecified) async throws -> Crm_Service_V1_MailboxSettings {
        try await call("SetMailbox", Crm_Service_V1_SetMailboxRequest.with {
            $0.mailbox.address = address
            $0.mailbox.team = team
            $0.mailbox.priority = priority
            $0.mailbox.type = type
        })
    }
}

/// An RFC 5322 message as a mail server would pipe it in (CRLF lines).
public func rawMail(from: String, to: String = "support@acme.example", subject: String, messageID: String,
                    inReplyTo: String = "", references: String = "", headers: [String] = [],
                    body: String = "Hello", contentType: String = "text/plain; charset=utf-8",
                    encoding: String = "8bit") -> String {
    var lines = ["From: \(from)", "To: \(to)", "Subject: \(subject)", "Date: Tue, 01 Dec 2026 10:00:00 +0000",
                 "Message-ID: <\(messageID)>", "MIME-Version: 1.0"]
    if !inReplyTo.isEmpty { lines.append("In-Reply-To: \(inReplyTo)") }
    if !references.isEmpty { lines.append("References: \(references)") }
    lines += headers
    lines += ["Content-Type: \(contentType)", "Content-Transfer-Encoding: \(encoding)", "", body]
    return lines.joined(separator: "\r\n") + "\r\n"
}

import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

public typealias STicket = Crm_Service_V1_Ticket
public typealias SMessage = Crm_Service_V1_TicketMessage

public let serviceService = "/crm.service.v1.Service/"

/// Typed calls to the service plugin over the socket, for tests.
public struct ServiceClient {
    public let connection: Connection
    /// Sent with every call: `["crm-user": name]` acts for that CRM user
    /// when this process is crmd's trusted proxy (AccessSupport).
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(serviceService + method, request, as: Response.self, metadata: metadata)
    }

    public func create(_ subject: String, requester: Int64, description: String = "", organization: Int64 = 0,
                       channel: Crm_Service_V1_Channel = .email, type: Crm_Service_V1_TicketType = .unspecified,
                       priority: Crm_Service_V1_Priority = .unspecified, tags: [String] = [], fields: [String: String] = [:],
                       assignee: String = "", team: String = "", followers: [String] = [], key: String = "") async throws -> STicket {
        try await call("CreateTicket", Crm_Service_V1_CreateTicketRequest.with {
            $0.ticket.subject = subject
            $0.ticket.description_p = description
            $0.ticket.requesterID = requester
            $0.ticket.organizationID = organization
            $0.ticket.channel = channel
            $0.ticket.type = type
            $0.ticket.priority = priority
            $0.ticket.tags = tags
            $0.ticket.customFields = fields
            $0.ticket.assignee = assignee
            $0.ticket.team = team
            $0.ticket.followers = followers
            $0.idempotencyKey = key
        })
    }

    public func get(_ id: Int64) async throws -> STicket {
        try await call("GetTicket", Crm_Service_V1_GetTicketRequest.with { $0.id = id })
    }

    public func update(_ ticket: STicket, mask: [String] = [], expectedVersion: Int64 = 0) async throws -> STicket {
        try await call("UpdateTicket", Crm_Service_V1_UpdateTicketRequest.with {
            $0.ticket = ticket
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    public func setStatus(_ id: Int64, _ status: Crm_Service_V1_TicketStatus, expectedVersion: Int64 = 0) async throws -> STicket {
        try await call("SetTicketStatus", Crm_Service_V1_SetTicketStatusRequest.with {
            $0.id = id
            $0.status = status
            $0.expectedVersion = expectedVersion
        })
    }

    public func assign(_ id: Int64, to assignee: String, team: String = "", expectedVersion: Int64 = 0) async throws -> STicket {
        try await call("AssignTicket", Crm_Service_V1_AssignTicketRequest.with {
            $0.id = id
            $0.assignee = assignee
            $0.team = team
            $0.expectedVersion = expectedVersion
        })
    }

    @discardableResult
    public func reply(_ ticket: Int64, _ body: String, kind: Crm_Service_V1_MessageKind = .public,
                      author: Crm_Service_V1_AuthorKind = .agent, status: Crm_Service_V1_TicketStatus = .unspecified,
                      key: String = "") async throws -> Crm_Service_V1_AddMessageResponse {
        try await call("AddMessage", Crm_Service_V1_AddMessageRequest.with {
            $0.ticketID = ticket
            $0.kind = kind
            $0.authorKind = author
            $0.body = body
            $0.status = status
            $0.idempotencyKey = key
        })
    }

    public func messages(_ ticket: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListMessagesResponse {
        try await call("ListMessages", Crm_Service_V1_ListMessagesRequest.with {
            $0.ticketID = ticket
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func merge(_ source: Int64, into target: Int64, key: String = "") async throws -> Crm_Service_V1_MergeTicketsResponse {
        try await call("MergeTickets", Crm_Service_V1_MergeTicketsRequest.with {
            $0.sourceID = source
            $0.targetID = target
            $0.idempotencyKey = key
        })
    }

    @discardableResult
    public func link(_ ticket: Int64, _ kind: Crm_Service_V1_LinkKind, _ other: Int64) async throws -> Crm_Service_V1_TicketLink {
        try await call("LinkTickets", Crm_Service_V1_LinkTicketsRequest.with {
            $0.ticketID = ticket
            $0.kind = kind
            $0.otherID = other
        })
    }

    public func unlink(_ ticket: Int64, _ kind: Crm_Service_V1_LinkKind, _ other: Int64) async throws {
        let _: Crm_Service_V1_UnlinkTicketsResponse = try await call("UnlinkTickets", Crm_Service_V1_UnlinkTicketsRequest.with {
            $0.ticketID = ticket
            $0.kind = kind
            $0.otherID = other
        })
    }

    public func links(_ ticket: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListTicketLinksResponse {
        try await call("ListTicketLinks", Crm_Service_V1_ListTicketLinksRequest.with {
            $0.ticketID = ticket
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func queue(_ configure: (inout Crm_Service_V1_ListTicketsRequest) -> Void) async throws -> Crm_Service_V1_ListTicketsResponse {
        var request = Crm_Service_V1_ListTicketsRequest()
        configure(&request)
        return try await call("ListTickets", request)
    }

    /// Every ticket id of a queue, page by page.
    public func queueIDs(pageSize: Int32 = 0, _ configure: (inout Crm_Service_V1_ListTicketsRequest) -> Void = { _ in }) async throws -> [Int64] {
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page = try await queue {
                configure(&$0)
                $0.pageSize = pageSize
                $0.pageToken = token
            }
            ids += page.tickets.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        return ids
    }

    @discardableResult
    public func setTeam(_ name: String, agents: [String]) async throws -> Crm_Service_V1_Team {
        try await call("SetTeam", Crm_Service_V1_SetTeamRequest.with {
            $0.name = name
            $0.agents = agents
        })
    }

    @discardableResult
    public func setField(_ key: String, _ type: Crm_Service_V1_CustomFieldType, label: String = "Field", options: [String] = [],
                         required: Bool = false) async throws -> Crm_Service_V1_CustomFieldDefinition {
        try await call("SetCustomField", Crm_Service_V1_SetCustomFieldRequest.with {
            $0.field.key = key
            $0.field.label = label
            $0.field.type = type
            $0.field.options = options
            $0.field.required = required
        })
    }

    public func requesterTickets(_ requester: Int64) async throws -> Crm_Service_V1_ListRequesterTicketsResponse {
        try await call("ListRequesterTickets", Crm_Service_V1_ListRequesterTicketsRequest.with { $0.requesterID = requester })
    }

    public func requesterTicket(_ requester: Int64, _ ticket: Int64) async throws -> Crm_Service_V1_RequesterTicket {
        try await call("GetRequesterTicket", Crm_Service_V1_GetRequesterTicketRequest.with {
            $0.requesterID = requester
            $0.ticketID = ticket
        })
    }

    public func requesterCreate(_ requester: Int64, _ subject: String, description: String = "", team: String = "",
                                key: String = "") async throws -> Crm_Service_V1_RequesterTicket {
        try await call("CreateRequesterTicket", Crm_Service_V1_CreateRequesterTicketRequest.with {
            $0.requesterID = requester
            $0.subject = subject
            $0.description_p = description
            $0.team = team
            $0.idempotencyKey = key
        })
    }

    public func requesterReply(_ requester: Int64, _ ticket: Int64, _ body: String,
                               key: String = "") async throws -> Crm_Service_V1_RequesterTicket {
        try await call("AddRequesterReply", Crm_Service_V1_AddRequesterReplyRequest.with {
            $0.requesterID = requester
            $0.ticketID = ticket
            $0.body = body
            $0.idempotencyKey = key
        })
    }
}

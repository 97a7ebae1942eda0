import CRMClient
import CRMProto
import Foundation
import ServiceTestClient

typealias Mode = Crm_Service_V1_RoutingMode
typealias Rule = Crm_Service_V1_EscalationRule
typealias SMacro = Crm_Service_V1_Macro
typealias SMacroActions = Crm_Service_V1_MacroActions

/// Routing and macro calls for the tests (beside the suites that use them).
extension ServiceClient {
    @discardableResult
    func setRouting(_ team: String, _ mode: Mode, requireSkills: Bool = false, escalations: [Rule] = [],
                    expectedVersion: Int64 = 0) async throws -> Crm_Service_V1_TeamRouting {
        try await call("SetTeamRouting", Crm_Service_V1_SetTeamRoutingRequest.with {
            $0.routing = .with { $0.team = team; $0.mode = mode; $0.requireSkills = requireSkills; $0.escalations = escalations }
            $0.expectedVersion = expectedVersion
        })
    }

    func teamRouting(_ team: String) async throws -> Crm_Service_V1_TeamRouting {
        try await call("GetTeamRouting", Crm_Service_V1_GetTeamRoutingRequest.with { $0.team = team })
    }

    @discardableResult
    func setAgent(_ agent: String, maxOpen: Int32 = 0, skills: [String] = []) async throws -> Crm_Service_V1_AgentRouting {
        try await call("SetAgentRouting", Crm_Service_V1_SetAgentRoutingRequest.with {
            $0.agent = agent; $0.maxOpenTickets = maxOpen; $0.skills = skills
        })
    }

    @discardableResult
    func setAvailability(_ agent: String, _ availability: Crm_Service_V1_Availability) async throws
        -> Crm_Service_V1_SetAgentAvailabilityResponse {
        try await call("SetAgentAvailability", Crm_Service_V1_SetAgentAvailabilityRequest.with {
            $0.agent = agent; $0.availability = availability
        })
    }

    func agent(_ agent: String) async throws -> Crm_Service_V1_AgentRouting {
        try await call("GetAgentRouting", Crm_Service_V1_GetAgentRoutingRequest.with { $0.agent = agent })
    }

    func createMacro(_ name: String, key: String = "", _ actions: (inout SMacroActions) -> Void) async throws -> SMacro {
        var a = SMacroActions()
        actions(&a)
        return try await call("CreateMacro", Crm_Service_V1_CreateMacroRequest.with {
            $0.macro = .with { $0.name = name; $0.actions = a }
            $0.idempotencyKey = key
        })
    }

    func applyMacro(_ macro: Int64, to ticket: Int64, key: String = "") async throws -> Crm_Service_V1_ApplyMacroResponse {
        try await call("ApplyMacro", Crm_Service_V1_ApplyMacroRequest.with {
            $0.macroID = macro; $0.ticketID = ticket; $0.idempotencyKey = key
        })
    }

    func applyMacro(_ macro: Int64, to tickets: [Int64], key: String = "") async throws -> Crm_Service_V1_ApplyMacroToTicketsResponse {
        try await call("ApplyMacroToTickets", Crm_Service_V1_ApplyMacroToTicketsRequest.with {
            $0.macroID = macro; $0.ticketIds = tickets; $0.idempotencyKey = key
        })
    }

    func macros(pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListMacrosResponse {
        try await call("ListMacros", Crm_Service_V1_ListMacrosRequest.with { $0.pageSize = pageSize; $0.pageToken = token })
    }
}

/// Events of some topics on their own connection, kept for the whole test
/// (a dropped connection closes the stream).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Crm_Kernel_V1_Event] = []
    private var task: Task<Void, Error>?
    private let connection: Connection

    init(_ world: ServiceWorld, _ patterns: [String]) throws {
        connection = try world.crmd.connect()
        let connection = connection
        task = Task { [weak self] in
            let request = Crm_Kernel_V1_SubscribeRequest.with { $0.topicPatterns = patterns }
            for try await e in try connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
                self?.add(e)
            }
        }
    }

    deinit { task?.cancel() }

    private func add(_ e: Crm_Kernel_V1_Event) { lock.withLock { events.append(e) } }

    func all(_ topic: String) -> [Crm_Kernel_V1_Event] { lock.withLock { events.filter { $0.topic == topic } } }

    func assigned(_ ticket: Int64) -> [Crm_Service_V1_TicketEvent] {
        all("service.ticket.assigned").compactMap { try? Crm_Service_V1_TicketEvent(serializedBytes: $0.payload) }
            .filter { $0.ticket.id == ticket }
    }

    func escalated(_ ticket: Int64) -> [Crm_Service_V1_EscalationEvent] {
        all("service.ticket.escalated").compactMap { try? Crm_Service_V1_EscalationEvent(serializedBytes: $0.payload) }
            .filter { $0.ticket.id == ticket }
    }
}

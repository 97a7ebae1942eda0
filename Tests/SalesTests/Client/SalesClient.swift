import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

public typealias SLead = Crm_Sales_V1_Lead
public typealias SOpportunity = Crm_Sales_V1_Opportunity
public typealias SActivity = Crm_Sales_V1_Activity
public typealias SPipeline = Crm_Sales_V1_Pipeline

public let salesService = "/crm.sales.v1.Sales/"

/// Typed calls to the sales plugin over the socket, for tests.
public struct SalesClient {
    public let connection: Connection
    /// Sent with every call: `["crm-user": name]` acts for that CRM user
    /// when this process is crmd's trusted proxy (AccessSupport).
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(salesService + method, request, as: Response.self, metadata: metadata)
    }

    public func createLead(first: String = "", last: String = "", company: String = "", email: String = "", phone: String = "",
                    owner: String = "", source: String = "", team: String = "", key: String = "") async throws -> SLead {
        try await call("CreateLead", Crm_Sales_V1_CreateLeadRequest.with {
            $0.lead.firstName = first
            $0.lead.lastName = last
            $0.lead.company = company
            $0.lead.email = email
            $0.lead.phone = phone
            $0.lead.owner = owner
            $0.lead.source = source
            $0.assignToTeam = team
            $0.idempotencyKey = key
        })
    }

    public func getLead(_ id: Int64) async throws -> SLead {
        try await call("GetLead", Crm_Sales_V1_GetLeadRequest.with { $0.id = id })
    }

    public func convert(_ leadID: Int64, key: String, name: String = "", amount: Int64 = 0, currency: String = "",
                 closeDate: String = "", pipeline: Int64 = 0) async throws -> Crm_Sales_V1_ConvertLeadResponse {
        try await call("ConvertLead", Crm_Sales_V1_ConvertLeadRequest.with {
            $0.leadID = leadID
            $0.idempotencyKey = key
            $0.opportunityName = name
            if !currency.isEmpty { $0.amount = .with { $0.amountMinor = amount; $0.currency = currency } }
            $0.expectedCloseDate = closeDate
            $0.pipelineID = pipeline
        })
    }

    public func createPipeline(_ name: String, _ stages: [(String, Int32)], makeDefault: Bool = false) async throws -> SPipeline {
        try await call("CreatePipeline", Crm_Sales_V1_CreatePipelineRequest.with {
            $0.name = name
            $0.stages = stages.map { stage in .with { $0.name = stage.0; $0.probability = stage.1 } }
            $0.makeDefault = makeDefault
        })
    }

    public func getPipeline(_ id: Int64 = 0) async throws -> SPipeline {
        try await call("GetPipeline", Crm_Sales_V1_GetPipelineRequest.with { $0.id = id })
    }

    public func createOpportunity(_ name: String, amount: Int64 = 0, currency: String = "EUR", closeDate: String = "",
                           owner: String = "", pipeline: Int64 = 0, stage: Int64 = 0, probability: Int32 = 0,
                           person: Int64 = 0, organization: Int64 = 0) async throws -> SOpportunity {
        try await call("CreateOpportunity", Crm_Sales_V1_CreateOpportunityRequest.with {
            $0.opportunity.name = name
            if !currency.isEmpty { $0.opportunity.amount = .with { $0.amountMinor = amount; $0.currency = currency } }
            $0.opportunity.expectedCloseDate = closeDate
            $0.opportunity.owner = owner
            $0.opportunity.pipelineID = pipeline
            $0.opportunity.stageID = stage
            $0.opportunity.probability = probability
            $0.opportunity.personID = person
            $0.opportunity.organizationID = organization
        })
    }

    public func getOpportunity(_ id: Int64) async throws -> SOpportunity {
        try await call("GetOpportunity", Crm_Sales_V1_GetOpportunityRequest.with { $0.id = id })
    }

    public func move(_ id: Int64, to stage: Int64, probability: Int32 = 0) async throws -> SOpportunity {
        try await call("MoveOpportunity", Crm_Sales_V1_MoveOpportunityRequest.with {
            $0.id = id
            $0.stageID = stage
            $0.probability = probability
        })
    }

    public func win(_ id: Int64) async throws -> SOpportunity {
        try await call("WinOpportunity", Crm_Sales_V1_WinOpportunityRequest.with { $0.id = id })
    }

    public func lose(_ id: Int64, reason: String) async throws -> SOpportunity {
        try await call("LoseOpportunity", Crm_Sales_V1_LoseOpportunityRequest.with { $0.id = id; $0.reason = reason })
    }

    public func createActivity(_ type: Crm_Sales_V1_ActivityType, _ subject: String, owner: String = "", due: Int64 = 0,
                        lead: Int64 = 0, person: Int64 = 0, opportunity: Int64 = 0) async throws -> SActivity {
        try await call("CreateActivity", Crm_Sales_V1_CreateActivityRequest.with {
            $0.activity.type = type
            $0.activity.subject = subject
            $0.activity.owner = owner
            $0.activity.dueUnixUs = due
            $0.activity.leadID = lead
            $0.activity.personID = person
            $0.activity.opportunityID = opportunity
        })
    }

    public func followUps(_ owner: String, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Sales_V1_ListActivitiesResponse {
        try await call("ListFollowUps", Crm_Sales_V1_ListFollowUpsRequest.with {
            $0.owner = owner
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}

import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import SalesTestClient
import SwiftProtobuf

/// crmd with contacts and sales and four CRM users, each with a client that
/// acts for them through this process (crmd's trusted proxy): two sales
/// reps (scope `own`), a sales manager (`all`) and a read-only user.
/// `admin` acts for no user: crmd's own uid, every permission and record.
struct SalesAccessWorld {
    let crmd: CrmdProcess
    let connection: Connection
    let admin: SalesClient
    let ann: SalesClient
    let bob: SalesClient
    let meg: SalesClient
    let rita: SalesClient

    static func start() async throws -> SalesAccessWorld {
        let crmd = try AccessSupport.start(plugins: ["contacts", "sales"])
        for (name, role) in [("ann", "sales_rep"), ("bob", "sales_rep"), ("meg", "sales_manager"), ("rita", "read_only")] {
            try await AccessSupport.createUser(crmd, name, roles: [role])
        }
        let connection = try crmd.connect()
        func client(_ user: String) -> SalesClient {
            SalesClient(connection: connection, metadata: AccessSupport.actingAs(user))
        }
        return SalesAccessWorld(crmd: crmd, connection: connection, admin: SalesClient(connection: connection),
                                ann: client("ann"), bob: client("bob"), meg: client("meg"), rita: client("rita"))
    }

    /// A contacts call acting for `user` (nil: the administrator).
    func contacts<Response: Message>(_ method: String, _ request: some Message, as user: String? = nil,
                                     _ type: Response.Type = Response.self) async throws -> Response {
        try await connection.call("/crm.contacts.v1.Contacts/" + method, request, as: Response.self,
                                  metadata: user.map(AccessSupport.actingAs) ?? [:])
    }

    /// Every method of the sales service, as Reflection describes it.
    func salesMethods() async throws -> [Crm_Kernel_V1_MethodInfo] {
        let list: Crm_Kernel_V1_ListServicesResponse = try await connection.call(
            "/crm.kernel.v1.Reflection/ListServices", Crm_Kernel_V1_ListServicesRequest.with { $0.pageSize = 1000 })
        return list.services.filter { $0.name == "crm.sales.v1.Sales" }.flatMap(\.methods)
    }
}

extension SalesClient {
    func leads(owner: String = "", pageSize: Int32 = 0, token: String = "") async throws -> Crm_Sales_V1_ListLeadsResponse {
        try await call("ListLeads", Crm_Sales_V1_ListLeadsRequest.with {
            $0.owner = owner
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    /// Every lead id the caller can list, page by page.
    func allLeadIDs(pageSize: Int32 = 0) async throws -> [Int64] {
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page = try await leads(pageSize: pageSize, token: token)
            ids += page.leads.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        return ids
    }

    func opportunities(owner: String = "") async throws -> [SOpportunity] {
        let response: Crm_Sales_V1_ListOpportunitiesResponse = try await call(
            "ListOpportunities", Crm_Sales_V1_ListOpportunitiesRequest.with { $0.owner = owner; $0.pageSize = 500 })
        return response.opportunities
    }

    func activities(lead: Int64 = 0, opportunity: Int64 = 0, owner: String = "") async throws -> [SActivity] {
        let response: Crm_Sales_V1_ListActivitiesResponse = try await call("ListActivities", Crm_Sales_V1_ListActivitiesRequest.with {
            $0.leadID = lead
            $0.opportunityID = opportunity
            $0.owner = owner
            $0.pageSize = 500
        })
        return response.activities
    }

    func forecast(owner: String = "") async throws -> [Crm_Sales_V1_ForecastRow] {
        let response: Crm_Sales_V1_GetForecastResponse = try await call(
            "GetForecast", Crm_Sales_V1_GetForecastRequest.with { $0.period = .month; $0.owner = owner })
        return response.rows
    }

    func stageStats() async throws -> [Crm_Sales_V1_StageStats] {
        let response: Crm_Sales_V1_GetStageStatsResponse = try await call("GetStageStats", Crm_Sales_V1_GetStageStatsRequest())
        return response.stages
    }

    func updateLead(_ id: Int64, mask: [String], _ change: (inout SLead) -> Void) async throws -> SLead {
        var lead = SLead()
        lead.id = id
        change(&lead)
        return try await call("UpdateLead", Crm_Sales_V1_UpdateLeadRequest.with {
            $0.lead = lead
            $0.updateMask = mask
        })
    }

    func updateOpportunity(_ id: Int64, mask: [String], _ change: (inout SOpportunity) -> Void) async throws -> SOpportunity {
        var o = SOpportunity()
        o.id = id
        change(&o)
        return try await call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity = o
            $0.updateMask = mask
        })
    }

    func complete(_ id: Int64, notes: String = "") async throws -> SActivity {
        try await call("CompleteActivity", Crm_Sales_V1_CompleteActivityRequest.with { $0.id = id; $0.notes = notes })
    }

    func qualify(_ id: Int64) async throws -> SLead {
        try await call("QualifyLead", Crm_Sales_V1_QualifyLeadRequest.with { $0.id = id })
    }
}

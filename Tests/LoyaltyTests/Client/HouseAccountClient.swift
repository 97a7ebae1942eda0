import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let houseAccountsService = "/crm.loyalty.v1.HouseAccounts/"

public typealias LHouseMember = Crm_Loyalty_V1_HouseMember
public typealias LHouseStatement = Crm_Loyalty_V1_HouseStatement

/// Typed calls to the loyalty plugin's HouseAccounts service, for tests.
extension LoyaltyClient {
    public func callHouse<Response: Message>(_ method: String, _ request: some Message,
                                             as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(houseAccountsService + method, request, as: Response.self, metadata: metadata)
    }

    public func houseAccount(currency: String = "EUR", person: Int64 = 0, organization: Int64 = 0,
                             label: String = "") async throws -> LAccount {
        try await call("CreateAccount", Crm_Loyalty_V1_CreateAccountRequest.with {
            $0.kind = .houseAccount; $0.currency = currency; $0.personID = person; $0.organizationID = organization; $0.label = label
        })
    }

    public func charge(_ account: Int64, _ amount: Int64, by person: Int64 = 0, order: String = "", memo: String = "",
                       key: String) async throws -> LPostingResult {
        try await callHouse("ChargeHouseAccount", Crm_Loyalty_V1_ChargeHouseAccountRequest.with {
            $0.accountID = account; $0.amount = amount; $0.personID = person; $0.orderRef = order; $0.memo = memo
            $0.idempotencyKey = key
        })
    }

    public func payIn(_ account: Int64, _ amount: Int64, tender: String = "cash", reference: String = "",
                      key: String) async throws -> LPostingResult {
        try await callHouse("PayIntoHouseAccount", Crm_Loyalty_V1_PayIntoHouseAccountRequest.with {
            $0.accountID = account; $0.amount = amount; $0.tender = tender; $0.reference = reference; $0.idempotencyKey = key
        })
    }

    public func setCreditLimit(_ account: Int64, _ limit: Int64, reason: String = "agreed") async throws -> LAccount {
        try await callHouse("SetCreditLimit", Crm_Loyalty_V1_SetCreditLimitRequest.with {
            $0.accountID = account; $0.creditLimit = limit; $0.reason = reason
        })
    }

    public func setMember(_ account: Int64, _ person: Int64, monthlyLimit: Int64 = 0) async throws -> LHouseMember {
        try await callHouse("SetHouseMember", Crm_Loyalty_V1_SetHouseMemberRequest.with {
            $0.accountID = account; $0.personID = person; $0.monthlyLimit = monthlyLimit
        })
    }

    public func removeMember(_ account: Int64, _ person: Int64) async throws -> LHouseMember {
        try await callHouse("RemoveHouseMember", Crm_Loyalty_V1_RemoveHouseMemberRequest.with {
            $0.accountID = account; $0.personID = person
        })
    }

    public func members(_ account: Int64, includeRemoved: Bool = false, pageSize: Int32 = 0,
                        token: String = "") async throws -> Crm_Loyalty_V1_ListHouseMembersResponse {
        try await callHouse("ListHouseMembers", Crm_Loyalty_V1_ListHouseMembersRequest.with {
            $0.accountID = account; $0.includeRemoved = includeRemoved; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    public func statement(_ account: Int64, from start: Int64 = 0, to end: Int64 = 0, pageSize: Int32 = 0,
                          token: String = "") async throws -> LHouseStatement {
        try await callHouse("GetHouseStatement", Crm_Loyalty_V1_GetHouseStatementRequest.with {
            $0.accountID = account; $0.periodStartUnixUs = start; $0.periodEndUnixUs = end; $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}

import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let loyaltyService = "/crm.loyalty.v1.Loyalty/"

public typealias LAccount = Crm_Loyalty_V1_Account
public typealias LPostingResult = Crm_Loyalty_V1_PostingResult
public typealias LGiftCard = Crm_Loyalty_V1_GiftCard
public typealias LHold = Crm_Loyalty_V1_Hold

/// Typed calls to the loyalty plugin over the socket, for tests.
public struct LoyaltyClient: Sendable {
    public let connection: Connection
    /// `["crm-user": name]` acts for that CRM user (AccessSupport).
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(loyaltyService + method, request, as: Response.self, metadata: metadata)
    }

    public func pointsAccount(person: Int64 = 0, key: String = "") async throws -> LAccount {
        try await call("CreateAccount", Crm_Loyalty_V1_CreateAccountRequest.with {
            $0.kind = .points
            $0.personID = person
            $0.idempotencyKey = key
        })
    }

    public func account(_ id: Int64) async throws -> LAccount {
        try await call("GetAccount", Crm_Loyalty_V1_GetAccountRequest.with { $0.id = id })
    }

    public func earn(_ account: Int64, _ points: Int64, key: String, reason: String = "") async throws -> LPostingResult {
        try await call("EarnPoints", Crm_Loyalty_V1_PointsRequest.with {
            $0.accountID = account; $0.points = points; $0.idempotencyKey = key; $0.reason = reason
        })
    }

    public func redeemPoints(_ account: Int64, _ points: Int64, key: String) async throws -> LPostingResult {
        try await call("RedeemPoints", Crm_Loyalty_V1_PointsRequest.with {
            $0.accountID = account; $0.points = points; $0.idempotencyKey = key
        })
    }

    public func adjust(_ account: Int64, _ amount: Int64, reason: String = "correction", key: String) async throws -> LPostingResult {
        try await call("AdjustBalance", Crm_Loyalty_V1_AdjustBalanceRequest.with {
            $0.accountID = account; $0.amount = amount; $0.reason = reason; $0.idempotencyKey = key
        })
    }

    public func reverse(_ posting: Int64, reason: String = "mistake", key: String) async throws -> LPostingResult {
        try await call("ReversePosting", Crm_Loyalty_V1_ReversePostingRequest.with {
            $0.postingID = posting; $0.reason = reason; $0.idempotencyKey = key
        })
    }

    public func issueDigital(_ amount: Int64, currency: String = "EUR", person: Int64 = 0, expires: Int64 = 0,
                             key: String) async throws -> Crm_Loyalty_V1_IssueGiftCardsResponse {
        try await call("IssueGiftCards", Crm_Loyalty_V1_IssueGiftCardsRequest.with {
            $0.format = .digital; $0.currency = currency; $0.initialAmount = amount; $0.personID = person
            $0.expiresUnixUs = expires; $0.idempotencyKey = key
        })
    }

    public func issuePrinted(_ count: Int32, currency: String = "EUR", key: String) async throws -> Crm_Loyalty_V1_IssueGiftCardsResponse {
        try await call("IssueGiftCards", Crm_Loyalty_V1_IssueGiftCardsRequest.with {
            $0.format = .printed; $0.count = count; $0.currency = currency; $0.idempotencyKey = key
        })
    }

    public func activate(_ card: Int64, _ amount: Int64, key: String) async throws -> LPostingResult {
        try await call("ActivateGiftCard", Crm_Loyalty_V1_ActivateGiftCardRequest.with {
            $0.cardID = card; $0.amount = amount; $0.idempotencyKey = key
        })
    }

    public func load(_ card: Int64, _ amount: Int64, key: String) async throws -> LPostingResult {
        try await call("LoadGiftCard", Crm_Loyalty_V1_GiftCardAmountRequest.with {
            $0.cardID = card; $0.amount = amount; $0.idempotencyKey = key
        })
    }

    public func redeem(card: Int64 = 0, code: String = "", _ amount: Int64, key: String) async throws -> LPostingResult {
        try await call("RedeemGiftCard", Crm_Loyalty_V1_GiftCardAmountRequest.with {
            $0.cardID = card; $0.code = code; $0.amount = amount; $0.idempotencyKey = key
        })
    }

    public func refund(_ card: Int64, posting: Int64, _ amount: Int64 = 0, key: String) async throws -> LPostingResult {
        try await call("RefundGiftCard", Crm_Loyalty_V1_RefundGiftCardRequest.with {
            $0.cardID = card; $0.postingID = posting; $0.amount = amount; $0.idempotencyKey = key
        })
    }

    public func voidCard(_ card: Int64, reason: String = "lost", key: String) async throws -> LPostingResult {
        try await call("VoidGiftCard", Crm_Loyalty_V1_VoidGiftCardRequest.with {
            $0.cardID = card; $0.reason = reason; $0.idempotencyKey = key
        })
    }

    public func expire(_ card: Int64, key: String) async throws -> LPostingResult {
        try await call("ExpireGiftCard", Crm_Loyalty_V1_ExpireGiftCardRequest.with { $0.cardID = card; $0.idempotencyKey = key })
    }

    public func card(_ id: Int64) async throws -> LGiftCard {
        try await call("GetGiftCard", Crm_Loyalty_V1_GetGiftCardRequest.with { $0.id = id })
    }

    public func lookup(_ code: String) async throws -> LGiftCard {
        try await call("LookupGiftCard", Crm_Loyalty_V1_LookupGiftCardRequest.with { $0.code = code })
    }

    public func authorize(account: Int64 = 0, card: Int64 = 0, code: String = "", _ amount: Int64, expires: Int64 = 0,
                          key: String) async throws -> LHold {
        try await call("Authorize", Crm_Loyalty_V1_AuthorizeRequest.with {
            $0.accountID = account; $0.cardID = card; $0.code = code; $0.amount = amount; $0.expiresUnixUs = expires
            $0.idempotencyKey = key
        })
    }

    public func capture(_ hold: Int64, _ amount: Int64 = 0, key: String) async throws -> LPostingResult {
        try await call("CaptureHold", Crm_Loyalty_V1_CaptureHoldRequest.with { $0.holdID = hold; $0.amount = amount; $0.idempotencyKey = key })
    }

    public func voidHold(_ hold: Int64, key: String) async throws -> LHold {
        try await call("VoidHold", Crm_Loyalty_V1_VoidHoldRequest.with { $0.holdID = hold; $0.idempotencyKey = key })
    }

    public func entries(_ account: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Loyalty_V1_ListEntriesResponse {
        try await call("ListEntries", Crm_Loyalty_V1_ListEntriesRequest.with {
            $0.accountID = account; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    public func posting(_ id: Int64) async throws -> Crm_Loyalty_V1_Posting {
        try await call("GetPosting", Crm_Loyalty_V1_GetPostingRequest.with { $0.id = id })
    }

    public func reconcile() async throws -> Crm_Loyalty_V1_ReconciliationReport {
        try await call("Reconcile", Crm_Loyalty_V1_ReconcileRequest())
    }
}

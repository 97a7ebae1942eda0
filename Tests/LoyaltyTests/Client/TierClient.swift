import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let tiersService = "/crm.loyalty.v1.Tiers/"

public typealias LTierLadder = Crm_Loyalty_V1_TierLadder
public typealias LTier = Crm_Loyalty_V1_Tier
public typealias LAccountTier = Crm_Loyalty_V1_AccountTier
public typealias LTierChange = Crm_Loyalty_V1_TierChange

/// Typed calls to the loyalty plugin's Tiers service, for tests.
extension LoyaltyClient {
    public func callTiers<Response: Message>(_ method: String, _ request: some Message,
                                             as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(tiersService + method, request, as: Response.self, metadata: metadata)
    }

    public func setLadder(_ program: Int64, _ ladder: LTierLadder, expectedVersion: Int64 = 0) async throws -> LTierLadder {
        try await callTiers("SetTierLadder", Crm_Loyalty_V1_SetTierLadderRequest.with {
            $0.programID = program; $0.ladder = ladder; $0.expectedVersion = expectedVersion
        })
    }

    public func ladder(_ program: Int64) async throws -> LTierLadder {
        try await callTiers("GetTierLadder", Crm_Loyalty_V1_GetTierLadderRequest.with { $0.programID = program })
    }

    public func tier(_ account: Int64, program: Int64) async throws -> LAccountTier {
        try await callTiers("GetAccountTier", Crm_Loyalty_V1_GetAccountTierRequest.with { $0.accountID = account; $0.programID = program })
    }

    public func tierChanges(_ account: Int64, program: Int64 = 0, pageSize: Int32 = 0,
                            token: String = "") async throws -> Crm_Loyalty_V1_ListTierChangesResponse {
        try await callTiers("ListTierChanges", Crm_Loyalty_V1_ListTierChangesRequest.with {
            $0.accountID = account; $0.programID = program; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    public func setTier(_ account: Int64, program: Int64, rank: Int32, reason: String = "status match", holdUntil: Int64 = 0,
                        key: String) async throws -> LAccountTier {
        try await callTiers("SetAccountTier", Crm_Loyalty_V1_SetAccountTierRequest.with {
            $0.accountID = account; $0.programID = program; $0.rank = rank; $0.reason = reason; $0.holdUntilUnixUs = holdUntil
            $0.idempotencyKey = key
        })
    }

    public func reviewTier(_ account: Int64, program: Int64) async throws -> LAccountTier {
        try await callTiers("ReviewAccountTier", Crm_Loyalty_V1_ReviewAccountTierRequest.with { $0.accountID = account; $0.programID = program })
    }
}

/// A tier of a ladder, for tests.
public func tier(_ name: String, _ threshold: Int64, percent: Int32 = 100, benefits: String = "") -> LTier {
    .with { $0.name = name; $0.threshold = threshold; $0.earnMultiplierPercent = percent; $0.benefits = benefits }
}

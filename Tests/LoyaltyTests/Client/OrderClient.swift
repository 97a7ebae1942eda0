import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let programsService = "/crm.loyalty.v1.Programs/"
public let ordersService = "/crm.loyalty.v1.Orders/"

public typealias LProgram = Crm_Loyalty_V1_Program
public typealias LOrder = Crm_Loyalty_V1_Order
public typealias LOrderLine = Crm_Loyalty_V1_OrderLine
public typealias LOrderResult = Crm_Loyalty_V1_OrderResult
public typealias LPointLot = Crm_Loyalty_V1_PointLot

/// Typed calls to the loyalty plugin's Programs and Orders services, for tests.
extension LoyaltyClient {
    public func callPrograms<Response: Message>(_ method: String, _ request: some Message,
                                                as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(programsService + method, request, as: Response.self, metadata: metadata)
    }

    public func callOrders<Response: Message>(_ method: String, _ request: some Message,
                                              as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(ordersService + method, request, as: Response.self, metadata: metadata)
    }

    public func createProgram(_ program: LProgram, key: String = "") async throws -> LProgram {
        try await callPrograms("CreateProgram", Crm_Loyalty_V1_CreateProgramRequest.with { $0.program = program; $0.idempotencyKey = key })
    }

    public func updateProgram(_ id: Int64, _ program: LProgram = LProgram(), retire: Bool = false,
                              expectedVersion: Int64 = 0) async throws -> LProgram {
        try await callPrograms("UpdateProgram", Crm_Loyalty_V1_UpdateProgramRequest.with {
            $0.id = id; $0.program = program; $0.retire = retire; $0.expectedVersion = expectedVersion
        })
    }

    public func program(_ id: Int64) async throws -> LProgram {
        try await callPrograms("GetProgram", Crm_Loyalty_V1_GetProgramRequest.with { $0.id = id })
    }

    public func programs(includeRetired: Bool = false, pageSize: Int32 = 0,
                         token: String = "") async throws -> Crm_Loyalty_V1_ListProgramsResponse {
        try await callPrograms("ListPrograms", Crm_Loyalty_V1_ListProgramsRequest.with {
            $0.includeRetired = includeRetired; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    public func lots(_ account: Int64, expiringBefore: Int64 = 0, pageSize: Int32 = 0,
                     token: String = "") async throws -> Crm_Loyalty_V1_ListPointLotsResponse {
        try await callPrograms("ListPointLots", Crm_Loyalty_V1_ListPointLotsRequest.with {
            $0.accountID = account; $0.expiringBeforeUnixUs = expiringBefore; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    public func expirePoints(_ account: Int64) async throws -> LPostingResult {
        try await callPrograms("ExpirePoints", Crm_Loyalty_V1_ExpirePointsRequest.with { $0.accountID = account })
    }

    public func earn(_ account: Int64, _ points: Int64, expires: Int64, key: String) async throws -> LPostingResult {
        try await call("EarnPoints", Crm_Loyalty_V1_PointsRequest.with {
            $0.accountID = account; $0.points = points; $0.expiresUnixUs = expires; $0.idempotencyKey = key
        })
    }

    public func postOrder(person: Int64 = 0, ref: String = "", currency: String = "EUR", lines: [LOrderLine],
                          placed: Int64 = 0, location: String = "", rewards: [Crm_Loyalty_V1_AppliedReward] = [],
                          tenders: [Crm_Loyalty_V1_Tender] = [], key: String) async throws -> LOrderResult {
        try await callOrders("PostOrder", Crm_Loyalty_V1_PostOrderRequest.with {
            $0.personID = person; $0.orderRef = ref; $0.currency = currency; $0.lines = lines; $0.placedUnixUs = placed
            $0.location = location; $0.rewards = rewards; $0.tenders = tenders; $0.idempotencyKey = key
        })
    }

    /// `lines`: line number → quantity; empty refunds what is left.
    public func refundOrder(_ order: Int64, lines: [(Int32, Int64)] = [], reason: String = "",
                            key: String) async throws -> LOrderResult {
        try await callOrders("RefundOrder", Crm_Loyalty_V1_RefundOrderRequest.with {
            $0.orderID = order
            $0.lines = lines.map { line in .with { $0.lineNumber = line.0; $0.quantity = line.1 } }
            $0.reason = reason
            $0.idempotencyKey = key
        })
    }

    public func order(_ id: Int64) async throws -> LOrder {
        try await callOrders("GetOrder", Crm_Loyalty_V1_GetOrderRequest.with { $0.id = id })
    }

    public func orders(person: Int64 = 0, from: Int64 = 0, until: Int64 = 0, pageSize: Int32 = 0,
                       token: String = "") async throws -> Crm_Loyalty_V1_ListOrdersResponse {
        try await callOrders("ListOrders", Crm_Loyalty_V1_ListOrdersRequest.with {
            $0.personID = person; $0.placedFromUnixUs = from; $0.placedUntilUnixUs = until; $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}

/// An order line, for tests.
public func orderLine(_ item: String, _ quantity: Int64, _ unitPrice: Int64, category: String = "", discount: Int64 = 0,
                      tax: Int64 = 0) -> LOrderLine {
    .with {
        $0.itemID = item; $0.name = item.capitalized; $0.category = category; $0.quantity = quantity; $0.unitPrice = unitPrice
        $0.discount = discount; $0.tax = tax
    }
}

public typealias LTender = Crm_Loyalty_V1_Tender
public typealias LReward = Crm_Loyalty_V1_Reward
public typealias LAppliedReward = Crm_Loyalty_V1_AppliedReward

/// Rewards and tenders, for tests.
extension LoyaltyClient {
    public func createReward(_ reward: LReward, key: String = "") async throws -> LReward {
        try await callPrograms("CreateReward", Crm_Loyalty_V1_CreateRewardRequest.with { $0.reward = reward; $0.idempotencyKey = key })
    }

    public func updateReward(_ id: Int64, _ reward: LReward = LReward(), retire: Bool = false,
                             expectedVersion: Int64 = 0) async throws -> LReward {
        try await callPrograms("UpdateReward", Crm_Loyalty_V1_UpdateRewardRequest.with {
            $0.id = id; $0.reward = reward; $0.retire = retire; $0.expectedVersion = expectedVersion
        })
    }

    public func rewards(program: Int64 = 0, includeRetired: Bool = false, pageSize: Int32 = 0,
                        token: String = "") async throws -> Crm_Loyalty_V1_ListRewardsResponse {
        try await callPrograms("ListRewards", Crm_Loyalty_V1_ListRewardsRequest.with {
            $0.programID = program; $0.includeRetired = includeRetired; $0.pageSize = pageSize; $0.pageToken = token
        })
    }
}

extension LReward {
    public static func freeItem(_ program: Int64, _ item: String, _ points: Int64) -> LReward {
        .with { $0.programID = program; $0.name = item.isEmpty ? "Free" : "Free \(item)"; $0.kind = .freeItem; $0.itemID = item
            $0.pointsCost = points }
    }
    public static func amountOff(_ program: Int64, _ amount: Int64, _ points: Int64) -> LReward {
        .with { $0.programID = program; $0.name = "\(amount) off"; $0.kind = .amountOff; $0.amountOff = amount; $0.pointsCost = points }
    }
    public static func percentOff(_ program: Int64, _ percent: Int32, max: Int64 = 0, _ points: Int64) -> LReward {
        .with { $0.programID = program; $0.name = "\(percent)% off"; $0.kind = .percentOff; $0.percentOff = percent; $0.maxDiscount = max
            $0.pointsCost = points }
    }
}

extension LAppliedReward {
    public static func use(_ reward: Int64, line: Int32 = 0) -> LAppliedReward { .with { $0.rewardID = reward; $0.lineNumber = line } }
}

extension LTender {
    public static func giftCard(_ id: Int64, _ amount: Int64) -> LTender {
        .with { $0.kind = .giftCard; $0.giftCardID = id; $0.amount = amount }
    }
    public static func giftCard(code: String, _ amount: Int64) -> LTender {
        .with { $0.kind = .giftCard; $0.giftCardCode = code; $0.amount = amount }
    }
    public static func house(_ id: Int64, _ amount: Int64, by person: Int64 = 0) -> LTender {
        .with { $0.kind = .houseAccount; $0.houseAccountID = id; $0.chargedByPersonID = person; $0.amount = amount }
    }
    public static func points(_ amount: Int64) -> LTender { .with { $0.kind = .points; $0.amount = amount } }
    public static func external(_ method: String, _ amount: Int64, reference: String = "") -> LTender {
        .with { $0.kind = .external; $0.method = method; $0.reference = reference; $0.amount = amount }
    }
}

import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let b2bService = "/crm.b2b.v1.B2B/"
public typealias BQuote = Crm_B2b_V1_Quote
public typealias BContent = Crm_B2b_V1_QuoteContent
public typealias BLine = Crm_B2b_V1_LineItem
public typealias BSection = Crm_B2b_V1_Section

/// Typed calls to the b2b plugin over the socket, for tests.
public struct B2BClient {
    public let connection: Connection
    /// `["crm-user": name]` acts for that user through a trusted proxy (AccessSupport).
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(b2bService + method, request, as: Response.self, metadata: metadata)
    }

    public func createProduct(_ sku: String, _ name: String, unit: String = "", description: String = "",
                              key: String = "") async throws -> Crm_B2b_V1_Product {
        try await call("CreateProduct", Crm_B2b_V1_CreateProductRequest.with {
            $0.product.sku = sku
            $0.product.name = name
            $0.product.unit = unit
            $0.product.description_p = description
            $0.idempotencyKey = key
        })
    }

    public func createBook(_ name: String, _ currency: String, isDefault: Bool = false, key: String = "") async throws -> Crm_B2b_V1_PriceBook {
        try await call("CreatePriceBook", Crm_B2b_V1_CreatePriceBookRequest.with {
            $0.priceBook.name = name
            $0.priceBook.currency = currency
            $0.priceBook.isDefault = isDefault
            $0.idempotencyKey = key
        })
    }

    @discardableResult
    public func setPrice(book: Int64, product: Int64, _ minor: Int64) async throws -> Crm_B2b_V1_Price {
        try await call("SetPrice", Crm_B2b_V1_SetPriceRequest.with {
            $0.priceBookID = book
            $0.productID = product
            $0.unitPriceMinor = minor
        })
    }

    public func price(book: Int64, _ content: BContent) async throws -> Crm_B2b_V1_PricedQuote {
        try await call("PriceQuote", Crm_B2b_V1_PriceQuoteRequest.with {
            $0.priceBookID = book
            $0.content = content
        })
    }

    public func createQuote(opportunity: Int64, book: Int64 = 0, currency: String = "", organization: Int64 = 0,
                            _ content: BContent, key: String = "") async throws -> BQuote {
        try await call("CreateQuote", Crm_B2b_V1_CreateQuoteRequest.with {
            $0.opportunityID = opportunity
            $0.priceBookID = book
            $0.currency = currency
            $0.organizationID = organization
            $0.content = content
            $0.idempotencyKey = key
        })
    }

    public func getQuote(_ id: Int64, revision: Int32 = 0) async throws -> BQuote {
        try await call("GetQuote", Crm_B2b_V1_GetQuoteRequest.with { $0.id = id; $0.revision = revision })
    }

    public func updateQuote(_ id: Int64, _ content: BContent, expectedVersion: Int64 = 0, key: String = "") async throws -> BQuote {
        try await call("UpdateQuote", Crm_B2b_V1_UpdateQuoteRequest.with {
            $0.id = id
            $0.content = content
            $0.expectedVersion = expectedVersion
            $0.idempotencyKey = key
        })
    }

    public func send(_ id: Int64, revision: Int32 = 0) async throws -> BQuote {
        try await call("SendQuote", Crm_B2b_V1_SendQuoteRequest.with { $0.id = id; $0.revision = revision })
    }

    public func approve(_ id: Int64, revision: Int32, rule: Int64 = 0, comment: String = "") async throws -> BQuote {
        try await call("ApproveQuote", Crm_B2b_V1_ApproveQuoteRequest.with {
            $0.id = id
            $0.revision = revision
            $0.ruleID = rule
            $0.comment = comment
        })
    }

    public func reject(_ id: Int64, revision: Int32, rule: Int64 = 0, comment: String) async throws -> BQuote {
        try await call("RejectQuote", Crm_B2b_V1_RejectQuoteRequest.with {
            $0.id = id
            $0.revision = revision
            $0.ruleID = rule
            $0.comment = comment
        })
    }

    public func render(_ id: Int64, revision: Int32 = 0) async throws -> Crm_B2b_V1_RenderedQuote {
        try await call("RenderQuote", Crm_B2b_V1_RenderQuoteRequest.with { $0.id = id; $0.revision = revision })
    }

    public func listQuotes(opportunity: Int64 = 0, pageSize: Int32 = 0, token: String = "") async throws -> Crm_B2b_V1_ListQuotesResponse {
        try await call("ListQuotes", Crm_B2b_V1_ListQuotesRequest.with {
            $0.opportunityID = opportunity
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func revisions(_ id: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_B2b_V1_ListQuoteRevisionsResponse {
        try await call("ListQuoteRevisions", Crm_B2b_V1_ListQuoteRevisionsRequest.with {
            $0.quoteID = id
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func discountRule(_ name: String, above bp: Int32, permission: String = "") async throws -> Crm_B2b_V1_ApprovalRule {
        try await call("CreateApprovalRule", Crm_B2b_V1_CreateApprovalRuleRequest.with {
            $0.rule.name = name
            $0.rule.kind = .discountAbove
            $0.rule.thresholdBp = bp
            $0.rule.approverPermission = permission
        })
    }

    public func totalRule(_ name: String, above minor: Int64, _ currency: String, permission: String = "") async throws
        -> Crm_B2b_V1_ApprovalRule {
        try await call("CreateApprovalRule", Crm_B2b_V1_CreateApprovalRuleRequest.with {
            $0.rule.name = name
            $0.rule.kind = .totalAbove
            $0.rule.limit = .with { $0.amountMinor = minor; $0.currency = currency }
            $0.rule.approverPermission = permission
        })
    }
}

/// Building quote content in tests.
public enum Q {
    public static func line(_ quantity: String, _ price: Int64? = nil, product: Int64 = 0, description: String = "",
                            discountBp: Int32 = 0, discountAmount: Int64 = 0, taxBp: Int32 = 0) -> BLine {
        BLine.with {
            $0.productID = product
            $0.description_p = description.isEmpty && product == 0 ? "Service" : description
            $0.quantity = quantity
            if let price { $0.unitPriceMinor = price }
            $0.discountPercentBp = discountBp
            $0.discountAmountMinor = discountAmount
            $0.taxRateBp = taxBp
        }
    }

    public static func section(_ title: String, _ lines: [BLine]) -> BSection {
        BSection.with { $0.title = title; $0.lines = lines }
    }

    public static func content(_ sections: [BSection], mode: Crm_B2b_V1_RoundingMode = .halfEven,
                               level: Crm_B2b_V1_RoundingLevel = .perLine, title: String = "Quote") -> BContent {
        BContent.with {
            $0.title = title
            $0.rounding = .with { $0.mode = mode; $0.level = level }
            $0.sections = sections
        }
    }
}

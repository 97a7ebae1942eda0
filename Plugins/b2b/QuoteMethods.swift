import B2BContract
import CRMPluginKit

/// Quotes: create on an opportunity, read a revision, replace the content
/// (in place on a draft, as a new revision after sending), list, and price
/// without storing. Sending and approvals are in QuoteSending.
enum QuoteMethods {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreateQuote", create)
        def.unary(B2B.service + "GetQuote", get)
        def.unary(B2B.service + "UpdateQuote", update)
        def.unary(B2B.service + "ListQuotes", list)
        def.unary(B2B.service + "ListQuoteRevisions", listRevisions)
        def.unary(B2B.service + "PriceQuote", price)
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateQuoteRequest) throws -> Quote {
        let db = try ctx.database
        let scope = ctx.scope
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreateQuote", req, key: \.idempotencyKey)
        if let id = previous { return try retried(db, quoteID: id, revision: 1, scope, method: "CreateQuote", key: req.idempotencyKey) }
        try Validate.positiveID(req.opportunityID, "opportunity_id")
        try Validate.optionalID(req.organizationID, "organization_id")
        try Validate.optionalID(req.priceBookID, "price_book_id")
        let opportunity = try Links.opportunity(ctx, req.opportunityID, field: "opportunity_id")
        guard opportunity.status == .open else {
            throw PluginError.failedPrecondition("opportunity_id: opportunity \(opportunity.id) is "
                + (opportunity.status == .won ? "won" : "lost") + "; quotes are made on open opportunities")
        }
        try scope.checkWritable(owner: ownerOrNil(opportunity.owner), "opportunity_id: opportunity \(opportunity.id)")
        let book = try priceBook(db, id: req.priceBookID, currency: req.currency)
        var organization = opportunity.organizationID
        if req.organizationID != 0 {
            guard organization == 0 || organization == req.organizationID else {
                throw PluginError.invalidArgument("organization_id: the quote's buyer is its opportunity's organization, "
                    + "\(organization); organization_id is for an opportunity without one")
            }
            if organization == 0 { organization = try Links.requireOrganization(ctx, req.organizationID, field: "organization_id").id }
        }
        var content = req.content
        let products = try Pricing.validate(&content, prefix: "content.")
        let result = try Pricing.price(content, currency: book.currency, bookID: book.id,
                                       entries: try Catalog.entries(db, book: book.id, products: products), prefix: "content.")
        let now = UTCClock.nowMicros()
        var record = QuoteStore.Record(opportunityID: opportunity.id, personID: opportunity.personID,
                                       organizationID: organization, owner: opportunity.owner, currency: book.currency,
                                       priceBookID: book.id, currentRevision: 1, version: 1, createdUs: now, updatedUs: now)
        try QuoteStore.insert(db, &record)
        var revision = QuoteStore.Revision(quoteID: record.id, revision: 1, status: .draft, priced: priced(result, book.currency),
                                           organizationName: try Links.organizationName(ctx, organization),
                                           createdUs: now, updatedUs: now)
        try QuoteStore.insertRevision(db, &revision)
        try B2BAudit.quote(ctx, "create", old: nil, new: (record, revision))
        try B2BEvents.quote(ctx, "created", record, revision, "Quote \(record.id) '\(content.title)' drafted: "
            + "\(Format.money(result.totals.totalMinor, book.currency)) \(book.currency)")
        try B2B.idempotency.record(db, claim, resultID: record.id)
        return QuoteStore.assemble(record, revision, approvals: try ApprovalRules.approvals(db, record, revision))
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetQuoteRequest) throws -> Quote {
        let db = try ctx.database
        let record = try QuoteStore.require(db, req.id, readableIn: ctx.scope)
        let revision = try QuoteStore.requireRevision(db, record, req.revision)
        return QuoteStore.assemble(record, revision, approvals: try ApprovalRules.approvals(db, record, revision))
    }

    static func update(_ ctx: CallContext, _ req: Crm_B2b_V1_UpdateQuoteRequest) throws -> Quote {
        let db = try ctx.database
        let scope = ctx.scope
        let (previous, claim) = try B2B.idempotency.check(db, method: "UpdateQuote", req, key: \.idempotencyKey)
        if let rowID = previous, let revision = try QuoteStore.revision(db, rowID: rowID) {
            return try retried(db, quoteID: revision.quoteID, revision: revision.revision, scope, method: "UpdateQuote",
                               key: req.idempotencyKey)
        }
        var record = try QuoteStore.require(db, req.id, writableIn: scope)
        try Validate.expectedVersion(req.expectedVersion, record.version, noun: "quote \(record.id)")
        let current = try QuoteStore.requireRevision(db, record, 0)
        var content = req.content
        let products = try Pricing.validate(&content, prefix: "content.")
        // A product made inactive since stays priceable on the quote that has it.
        let kept = Set(current.priced.content.sections.flatMap { $0.lines.map(\.productID) }.filter { $0 > 0 })
        let result = try Pricing.price(content, currency: record.currency, bookID: record.priceBookID,
                                       entries: try Catalog.entries(db, book: record.priceBookID, products: products),
                                       keepInactive: kept, prefix: "content.")
        let organizationName = try Links.organizationName(ctx, record.organizationID)
        let newPriced = priced(result, record.currency)
        // An edit that changes nothing writes nothing and makes no revision.
        if newPriced == current.priced && organizationName == current.organizationName {
            try B2B.idempotency.record(db, claim, resultID: current.rowID)
            return QuoteStore.assemble(record, current, approvals: try ApprovalRules.approvals(db, record, current))
        }
        let before = record
        let now = UTCClock.nowMicros()
        var revision = current
        revision.priced = newPriced
        revision.organizationName = organizationName
        revision.updatedUs = now
        record.version += 1
        record.updatedUs = now
        if current.status == .draft {
            try QuoteStore.saveDraft(db, revision)
            // Approvals were given to the content they saw; it changed.
            try db.execute("DELETE FROM b2b_approvals WHERE quote_id = ? AND revision = ?",
                           [.integer(record.id), .integer(Int64(revision.revision))])
            try QuoteStore.save(db, record)
            try B2BAudit.quote(ctx, "update", old: (before, current), new: (record, revision))
            try B2BEvents.quote(ctx, "updated", record, revision, "Quote \(record.id) revision \(revision.revision) edited: "
                + "\(Format.money(result.totals.totalMinor, record.currency)) \(record.currency)")
        } else {
            revision = QuoteStore.Revision(quoteID: record.id, revision: current.revision + 1, status: .draft,
                                           priced: newPriced, organizationName: organizationName, createdUs: now, updatedUs: now)
            try QuoteStore.insertRevision(db, &revision)
            record.currentRevision = revision.revision
            try QuoteStore.save(db, record)
            try B2BAudit.quote(ctx, "revise", old: (before, current), new: (record, revision))
            try B2BEvents.quote(ctx, "revised", record, revision, "Quote \(record.id) revised: revision \(revision.revision), "
                + "\(Format.money(result.totals.totalMinor, record.currency)) \(record.currency)")
        }
        try B2B.idempotency.record(db, claim, resultID: revision.rowID)
        return QuoteStore.assemble(record, revision, approvals: try ApprovalRules.approvals(db, record, revision))
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListQuotesRequest) throws -> Crm_B2b_V1_ListQuotesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.opportunityID, "opportunity_id")
        let db = try ctx.database
        var filter = SQLFilter()
        if req.opportunityID != 0 { filter.add("q.opportunity_id = ?", .integer(req.opportunityID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "q.owner")
        if let after = paging.after { filter.add("q.id > ?", after[0]) }
        let columns = QuoteStore.recordColumns.split(separator: ",").map { "q." + $0.trimmedSpacesAndNewlines }
            + QuoteStore.revisionColumns.split(separator: ",").map { "r." + $0.trimmedSpacesAndNewlines }
        let recordCount = QuoteStore.recordColumns.split(separator: ",").count
        let rules = try ApprovalRules.active(db)
        let page = try fetchPage(db, """
            SELECT \(columns.joined(separator: ", ")) FROM b2b_quotes q
            JOIN b2b_quote_revisions r ON r.quote_id = q.id AND r.revision = q.current_revision
            \(filter.clause) ORDER BY q.id LIMIT ?
            """, filter.parameters, paging, decode: { row -> Quote in
            let record = QuoteStore.decodeRecord(Array(row[0..<recordCount]))
            let revision = try QuoteStore.decodeRevision(Array(row[recordCount...]))
            return withoutLines(QuoteStore.assemble(record, revision,
                                                    approvals: try ApprovalRules.approvals(db, record, revision, rules: rules)))
        }, key: { [$0[0]] })
        return .with {
            $0.quotes = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func listRevisions(_ ctx: CallContext, _ req: Crm_B2b_V1_ListQuoteRevisionsRequest) throws
        -> Crm_B2b_V1_ListQuoteRevisionsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let record = try QuoteStore.require(db, req.quoteID, field: "quote_id", readableIn: ctx.scope)
        var filter = SQLFilter()
        filter.add("quote_id = ?", .integer(record.id))
        if let after = paging.after { filter.add("revision > ?", after[0]) }
        let rules = try ApprovalRules.active(db)
        let page = try fetchPage(db, """
            SELECT \(QuoteStore.revisionColumns) FROM b2b_quote_revisions \(filter.clause) ORDER BY revision LIMIT ?
            """, filter.parameters, paging, decode: { row -> Quote in
            let revision = try QuoteStore.decodeRevision(row)
            return withoutLines(QuoteStore.assemble(record, revision,
                                                    approvals: try ApprovalRules.approvals(db, record, revision, rules: rules)))
        }, key: { [$0[2]] })
        return .with {
            $0.revisions = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func price(_ ctx: CallContext, _ req: Crm_B2b_V1_PriceQuoteRequest) throws -> Crm_B2b_V1_PricedQuote {
        let db = try ctx.database
        let book = try PriceBookMethods.require(db, req.priceBookID, field: "price_book_id")
        var content = req.content
        let products = try Pricing.validate(&content, prefix: "content.")
        let result = try Pricing.price(content, currency: book.currency, bookID: book.id,
                                       entries: try Catalog.entries(db, book: book.id, products: products), prefix: "content.")
        return priced(result, book.currency)
    }

    // MARK: - Helpers

    static func priced(_ result: Pricing.Result, _ currency: String) -> Crm_B2b_V1_PricedQuote {
        .with {
            $0.currency = currency
            $0.content = result.content
            $0.totals = result.totals
            $0.taxes = result.taxes
        }
    }

    /// The book named, or the currency's default; INVALID_ARGUMENT when
    /// neither is given or they disagree.
    static func priceBook(_ db: Database, id: Int64, currency: String) throws -> PriceBook {
        let currency = currency.trimmedSpaces
        if id != 0 {
            let book = try PriceBookMethods.require(db, id, field: "price_book_id")
            if !currency.isEmpty && currency != book.currency {
                throw PluginError.invalidArgument("currency \(currency) is not price book \(id)'s currency, \(book.currency)")
            }
            return book
        }
        guard !currency.isEmpty else { throw PluginError.invalidArgument("price_book_id or currency is required") }
        try Validate.currency(currency, "currency")
        guard let book = try PriceBookMethods.defaultBook(db, currency: currency) else {
            throw PluginError.notFound("currency: there is no default price book for \(currency)")
        }
        return book
    }

    /// A retry answered from its key: the revision it made, unless the
    /// quote is now out of the caller's scope (then the key is as good as
    /// another request's, and the quote stays unseen).
    static func retried(_ db: Database, quoteID: Int64, revision: Int32, _ scope: RecordScope, method: String,
                        key: String) throws -> Quote {
        guard let record = try QuoteStore.load(db, quoteID), scope.includes(owner: ownerOrNil(record.owner)),
              let stored = try QuoteStore.revision(db, quote: quoteID, revision) else {
            throw IdempotencyKeys.mismatch(method: method, key: key)
        }
        return QuoteStore.assemble(record, stored, approvals: try ApprovalRules.approvals(db, record, stored))
    }

    static func withoutLines(_ quote: Quote) -> Quote {
        var q = quote
        for s in q.content.sections.indices { q.content.sections[s].lines = [] }
        return q
    }
}

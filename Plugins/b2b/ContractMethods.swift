import B2BContract
import CRMPluginKit

/// Contracts made by signatures: read, list, amend (a new version of the
/// terms), and the versions. Renewals are in Renewals, the report in
/// RenewalReport.
enum ContractMethods {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "GetContract", get)
        def.unary(B2B.service + "ListContracts", list)
        def.unary(B2B.service + "AmendContract", amend)
        def.unary(B2B.service + "ListContractVersions", versions)
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetContractRequest) throws -> Contract {
        try ContractStore.require(try ctx.database, req.id, readableIn: ctx.scope).contract
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListContractsRequest) throws -> Crm_B2b_V1_ListContractsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.organizationID, "organization_id")
        var filter = SQLFilter()
        if req.organizationID != 0 { filter.add("organization_id = ?", .integer(req.organizationID)) }
        if req.status != .unspecified { filter.add("status = ?", .integer(Int64(req.status.rawValue))) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database,
                                 "SELECT \(ContractStore.columns) FROM b2b_contracts \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: { ContractStore.decode($0).contract }, key: { [$0[0]] })
        return .with {
            $0.contracts = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func amend(_ ctx: CallContext, _ req: Crm_B2b_V1_AmendContractRequest) throws -> Contract {
        let db = try ctx.database
        let scope = ctx.scope
        let (replayed, claim) = try ContractStore.replay(db, "AmendContract", req, key: \.idempotencyKey, scope: scope)
        if let replayed { return replayed }
        try Validate.positiveID(req.id, "id")
        var reason = req.reason
        try Check.text(&reason, "reason", max: 500, required: true)
        try ContractTermsCheck.validate(req.terms, prefix: "terms.")
        var row = try ContractStore.require(db, req.id, writableIn: scope)
        try Validate.expectedVersion(req.expectedVersion, row.contract.version, noun: "contract \(row.contract.id)")
        guard row.contract.status == .active else {
            throw PluginError.failedPrecondition("contract \(row.contract.id) is \(ContractStore.statusName(row.contract.status)); "
                + "only an active contract is amended")
        }
        var terms = req.terms
        let currency = row.contract.terms.value.currency
        if terms.hasValue {
            try Check.amount(terms.value.amountMinor, "terms.value.amount_minor")
            let given = terms.value.currency.trimmedSpaces
            guard given.isEmpty || given == currency else {
                throw PluginError.invalidArgument("terms.value.currency \(given) is not the contract's currency, \(currency)")
            }
            terms.value.currency = currency
        } else {
            terms.value = row.contract.terms.value
        }
        _ = try ContractTermsCheck.uplifted(terms.value.amountMinor, bp: terms.upliftBp)
        guard terms != row.contract.terms else {
            try B2B.idempotency.record(db, claim, resultID: row.contract.id)
            return row.contract  // the same terms: nothing to amend
        }
        let before = row.contract
        let now = UTCClock.nowMicros()
        row.contract.terms = terms
        // Bounded by the contract's own writes: one more per amendment, never from the wire.
        row.contract.termsVersion += 1
        row.contract.version += 1
        row.contract.updatedUnixUs = now
        try ContractStore.save(db, row)
        try ContractStore.insertVersion(db, row.contract, reason: reason, by: ctx.user ?? "", at: now)
        try ContractStore.audit(ctx, "amend", old: before, new: row.contract)
        try ContractEvents.contract(ctx, "amended", row.contract, "Contract \(row.contract.id) amended (version "
            + "\(row.contract.termsVersion)): \(reason)")
        try B2B.idempotency.record(db, claim, resultID: row.contract.id)
        return row.contract
    }

    static func versions(_ ctx: CallContext, _ req: Crm_B2b_V1_ListContractVersionsRequest) throws
        -> Crm_B2b_V1_ListContractVersionsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let row = try ContractStore.require(db, req.contractID, field: "contract_id", readableIn: ctx.scope)
        var filter = SQLFilter()
        filter.add("contract_id = ?", .integer(row.contract.id))
        if let after = paging.after { filter.add("terms_version > ?", after[0]) }
        let page = try fetchPage(db, """
            SELECT contract_id, terms_version, terms, reason, created_by, created_us FROM b2b_contract_versions
            \(filter.clause) ORDER BY terms_version LIMIT ?
            """, filter.parameters, paging, decode: { r -> Crm_B2b_V1_ContractVersion in
            var v = Crm_B2b_V1_ContractVersion()
            v.contractID = r.int(0)
            v.termsVersion = r.int32(1)
            v.terms = try Terms(serializedBytes: r.blob(2))
            v.reason = r.text(3)
            v.createdBy = r.text(4)
            v.createdUnixUs = r.int(5)
            return v
        }, key: { [$0[1]] })
        return .with {
            $0.versions = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}

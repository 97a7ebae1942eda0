import CRMPluginKit
import SalesContract

/// Forecast and stage statistics, aggregated by SQL over the indexes: no
/// opportunity rows are loaded into the plugin. Both count only the
/// opportunities whose owner the caller's sales.report.read scope reaches,
/// inside the SQL, so every count, sum and rate is over those alone: a
/// rep's forecast is the rep's own pipeline.
enum Reports {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "GetForecast", forecast)
        def.unary(Sales.service + "GetStageStats", stageStats)
    }

    /// Open and won opportunities with an expected close date, per period of
    /// that date, owner and currency. Weighted sums round down per
    /// opportunity (integer division of non-negative amounts; the amount cap
    /// keeps amount × probability far below int64). A sum beyond int64 (over
    /// 9,000 opportunities at the cap in one row) is OUT_OF_RANGE: SQLite's
    /// SUM stops with "integer overflow" rather than wrap.
    static func forecast(_ ctx: CallContext, _ req: Crm_Sales_V1_GetForecastRequest) throws -> Crm_Sales_V1_GetForecastResponse {
        let period: String
        switch req.period {
        case .month: period = "substr(expected_close_date, 1, 7)"
        case .quarter:
            period = "substr(expected_close_date, 1, 4) || '-Q' || ((CAST(substr(expected_close_date, 6, 2) AS INTEGER) + 2) / 3)"
        default: throw PluginError.invalidArgument("period \(req.period.rawValue) is not a period")
        }
        var from = req.fromDate
        var to = req.toDate
        try Check.date(&from, "from_date")
        try Check.date(&to, "to_date")
        if !from.isEmpty && !to.isEmpty && to < from {
            throw PluginError.invalidArgument("to_date \(to) is before from_date \(from)")
        }
        let db = try ctx.database
        var filter = SQLFilter()
        filter.add("status IN (?, ?) AND expected_close_date <> ''",
                   .integer(Int64(Crm_Sales_V1_OpportunityStatus.open.rawValue)),
                   .integer(Int64(Crm_Sales_V1_OpportunityStatus.won.rawValue)))
        if !from.isEmpty { filter.add("expected_close_date >= ?", .text(from)) }
        if !to.isEmpty { filter.add("expected_close_date <= ?", .text(to)) }
        if req.pipelineID != 0 {
            _ = try PipelineMethods.require(db, req.pipelineID, field: "pipeline_id")
            filter.add("pipeline_id = ?", .integer(req.pipelineID))
        }
        if !req.owner.isEmpty { filter.add("owner = ?", .text(req.owner)) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        let rows: [[SQLValue]]
        do {
            rows = try db.query("""
            SELECT \(period) AS period, owner, currency,
                SUM(CASE WHEN status = 1 THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 1 THEN amount_minor ELSE 0 END),
                SUM(CASE WHEN status = 1 THEN amount_minor * probability / 100 ELSE 0 END),
                SUM(CASE WHEN status = 2 THEN amount_minor ELSE 0 END)
            FROM sales_opportunities \(filter.clause)
            GROUP BY period, owner, currency
            ORDER BY period, owner, currency
            """, filter.parameters)
        } catch let error as PluginError where error.message.contains("integer overflow") {
            throw PluginError(.outOfRange, "a forecast sum exceeds the int64 range of amount_minor; "
                + "narrow it with from_date, to_date, pipeline_id or owner")
        }
        return .with {
            $0.rows = rows.map { row in
                Crm_Sales_V1_ForecastRow.with {
                    $0.period = row.text(0)
                    $0.owner = row.text(1)
                    $0.currency = row.text(2)
                    $0.openCount = row.int(3)
                    $0.unweightedMinor = row.int(4)
                    $0.weightedMinor = row.int(5)
                    $0.wonMinor = row.int(6)
                }
            }
        }
    }

    /// Per stage, in pipeline order: the opportunities that ever entered it,
    /// how many of those are now won or lost, and the average time of the
    /// visits that ended (each entry into a stage is one visit).
    static func stageStats(_ ctx: CallContext, _ req: Crm_Sales_V1_GetStageStatsRequest) throws -> Crm_Sales_V1_GetStageStatsResponse {
        let db = try ctx.database
        let pipeline = try PipelineMethods.require(db, req.pipelineID, field: "pipeline_id")
        // The visits of in-scope opportunities only; every stage still gets its row.
        let scope = ctx.scope.condition(ownerColumn: "o.owner")
        let rows: [[SQLValue]]
        do {
            rows = try db.query("""
            SELECT s.id, s.name,
                COUNT(DISTINCT h.opportunity_id),
                COUNT(DISTINCT CASE WHEN h.status = 2 THEN h.opportunity_id END),
                COUNT(DISTINCT CASE WHEN h.status = 3 THEN h.opportunity_id END),
                COALESCE(SUM(CASE WHEN h.left_us > 0 THEN h.left_us - h.entered_us END)
                    / NULLIF(SUM(CASE WHEN h.left_us > 0 THEN 1 ELSE 0 END), 0) / 1000000, 0)
            FROM sales_stages s
            LEFT JOIN (
                SELECT v.stage_id, v.opportunity_id, v.entered_us, v.left_us, o.status
                FROM sales_stage_history v JOIN sales_opportunities o ON o.id = v.opportunity_id
                WHERE \(scope.sql)
            ) h ON h.stage_id = s.id
            WHERE s.pipeline_id = ?
            GROUP BY s.id, s.name, s.position
            ORDER BY s.position
            """, scope.parameters + [.integer(pipeline.id)])
        } catch let error as PluginError where error.message.contains("integer overflow") {
            throw PluginError(.outOfRange, "the time spent in a stage sums beyond int64 microseconds")
        }
        return .with {
            $0.stages = rows.map { row in
                let won = row.int(3)
                let lost = row.int(4)
                return Crm_Sales_V1_StageStats.with {
                    $0.stageID = row.int(0)
                    $0.stageName = row.text(1)
                    $0.entered = row.int(2)
                    $0.won = won
                    $0.lost = lost
                    $0.winRateBp = won + lost == 0 ? 0 : Int32(won * 10_000 / (won + lost))
                    $0.averageSecondsInStage = row.int(5)
                }
            }
        }
    }
}

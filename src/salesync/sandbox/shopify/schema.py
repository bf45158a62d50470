"""The subset of the GraphQL Admin API schema the sandbox serves.

Type, field, argument and enum names follow https://shopify.dev/docs/api/admin-graphql;
only what a sales sync reads is present.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema

SDL = """
scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64
scalar BigInt

enum CurrencyCode { USD CAD EUR GBP AUD NZD }
enum OrderSortKeys { CREATED_AT UPDATED_AT PROCESSED_AT ID ORDER_NUMBER }
enum CustomerSortKeys { CREATED_AT UPDATED_AT ID NAME }
enum ProductSortKeys { CREATED_AT UPDATED_AT ID TITLE }
enum LocationSortKeys { ID NAME }
enum PayoutSortKeys { ISSUED_AT ID }
enum BalanceTransactionSortKeys { PROCESSED_AT ID }
enum OrderDisplayFinancialStatus {
  PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED EXPIRED
}
enum OrderTransactionKind { SALE CAPTURE AUTHORIZATION REFUND VOID CHANGE EMV_AUTHORIZATION
  SUGGESTED_REFUND }
enum OrderTransactionStatus { SUCCESS FAILURE PENDING ERROR AWAITING_RESPONSE UNKNOWN }
enum CustomerState { ENABLED DISABLED INVITED DECLINED }
enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum RefundLineItemRestockType { NO_RESTOCK CANCEL RETURN LEGACY_RESTOCK }
enum DiscountApplicationAllocationMethod { ACROSS EACH }
enum DiscountApplicationTargetSelection { ALL ENTITLED EXPLICIT }
enum DiscountApplicationTargetType { LINE_ITEM SHIPPING_LINE }
enum ShopifyPaymentsPayoutStatus { SCHEDULED IN_TRANSIT PAID FAILED CANCELED }
enum ShopifyPaymentsBalanceTransactionPayoutStatus {
  SCHEDULED IN_TRANSIT PAID FAILED CANCELED PENDING ACTION_REQUIRED
}
enum ShopifyPaymentsPayoutTransactionType { DEPOSIT WITHDRAWAL }
enum ShopifyPaymentsTransactionType { CHARGE REFUND ADJUSTMENT TRANSFER DISPUTE_WITHDRAWAL
  RESERVED_FUNDS }
enum ShopifyPaymentsSourceType { ADJUSTMENT ADJUSTMENT_REVERSAL CHARGE DISPUTE REFUND
  SYSTEM_ADJUSTMENT TRANSFER }
enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionTopic {
  ORDERS_CREATE ORDERS_UPDATED ORDERS_PAID REFUNDS_CREATE CUSTOMERS_CREATE CUSTOMERS_UPDATE
  PRODUCTS_CREATE PRODUCTS_UPDATE APP_UNINSTALLED
}

interface Node { id: ID! }

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor:
  String }

type ShopPlan { displayName: String! partnerDevelopment: Boolean! shopifyPlus: Boolean! }
type Shop implements Node {
  id: ID! name: String! email: String! myshopifyDomain: String! currencyCode: CurrencyCode!
  ianaTimezone: String! plan: ShopPlan!
}

type LocationAddress {
  address1: String city: String provinceCode: String countryCode: String zip: String
}
type Location implements Node {
  id: ID! legacyResourceId: UnsignedInt64! name: String! isActive: Boolean!
  fulfillsOnlineOrders: Boolean! address: LocationAddress! createdAt: DateTime! updatedAt: DateTime!
}
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

type CustomerEmailAddress { emailAddress: String! }
type Customer implements Node {
  id: ID! legacyResourceId: UnsignedInt64! firstName: String lastName: String displayName: String!
  email: String defaultEmailAddress: CustomerEmailAddress phone: String tags: [String!]!
  state: CustomerState! numberOfOrders: UnsignedInt64! amountSpent: MoneyV2!
  createdAt: DateTime! updatedAt: DateTime!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

type ProductVariant implements Node {
  id: ID! legacyResourceId: UnsignedInt64! title: String! sku: String price: Money!
  taxable: Boolean! product: Product! createdAt: DateTime! updatedAt: DateTime!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo!
}
type Product implements Node {
  id: ID! legacyResourceId: UnsignedInt64! title: String! handle: String! vendor: String!
  productType: String! status: ProductStatus! createdAt: DateTime! updatedAt: DateTime!
  variants(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): ProductVariantConnection!
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }

type TaxLine {
  title: String! rate: Float ratePercentage: Float priceSet: MoneyBag! channelLiable: Boolean
}

union PricingValue = MoneyV2 | PricingPercentageValue
type PricingPercentageValue { percentage: Float! }
interface DiscountApplication {
  index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType!
  value: PricingValue!
}
type DiscountCodeApplication implements DiscountApplication {
  index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType!
  value: PricingValue! code: String!
}
type ManualDiscountApplication implements DiscountApplication {
  index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType!
  value: PricingValue! title: String! description: String
}
type AutomaticDiscountApplication implements DiscountApplication {
  index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType!
  value: PricingValue! title: String!
}
type DiscountApplicationEdge { cursor: String! node: DiscountApplication! }
type DiscountApplicationConnection {
  edges: [DiscountApplicationEdge!]! nodes: [DiscountApplication!]! pageInfo: PageInfo!
}
type DiscountAllocation { allocatedAmountSet: MoneyBag! discountApplication: DiscountApplication! }

type LineItem implements Node {
  id: ID! name: String! title: String! variantTitle: String sku: String quantity: Int!
  currentQuantity: Int! variant: ProductVariant product: Product taxable: Boolean!
  isGiftCard: Boolean! requiresShipping: Boolean! originalUnitPriceSet: MoneyBag!
  discountedUnitPriceAfterAllDiscountsSet: MoneyBag! originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag! totalDiscountSet: MoneyBag!
  discountAllocations: [DiscountAllocation!]! taxLines(first: Int): [TaxLine!]!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type ShippingLine {
  id: ID title: String! code: String source: String originalPriceSet: MoneyBag!
  discountedPriceSet: MoneyBag! taxLines: [TaxLine!]!
}
type ShippingLineEdge { cursor: String! node: ShippingLine! }
type ShippingLineConnection {
  edges: [ShippingLineEdge!]! nodes: [ShippingLine!]! pageInfo: PageInfo!
}

type CardPaymentDetails {
  company: String name: String number: String bin: String wallet: String
}
union PaymentDetails = CardPaymentDetails
type OrderTransaction implements Node {
  id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! gateway: String
  formattedGateway: String amountSet: MoneyBag! processedAt: DateTime createdAt: DateTime!
  test: Boolean! parentTransaction: OrderTransaction paymentDetails: PaymentDetails order: Order
}
type OrderTransactionEdge { cursor: String! node: OrderTransaction! }
type OrderTransactionConnection {
  edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]! pageInfo: PageInfo!
}

type RefundLineItem {
  id: ID lineItem: LineItem! quantity: Int! restockType: RefundLineItemRestockType!
  restocked: Boolean! priceSet: MoneyBag! subtotalSet: MoneyBag! totalTaxSet: MoneyBag!
}
type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
type RefundLineItemConnection {
  edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo!
}
type Refund implements Node {
  id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime updatedAt: DateTime! note: String
  order: Order! totalRefundedSet: MoneyBag!
  refundLineItems(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): RefundLineItemConnection!
  transactions(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): OrderTransactionConnection!
}

type Order implements Node {
  id: ID! legacyResourceId: UnsignedInt64! name: String! email: String
  createdAt: DateTime! updatedAt: DateTime! processedAt: DateTime! cancelledAt: DateTime
  cancelReason: String closed: Boolean! test: Boolean! sourceName: String note: String
  tags: [String!]! currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode!
  taxesIncluded: Boolean! displayFinancialStatus: OrderDisplayFinancialStatus
  customer: Customer retailLocation: Location physicalLocation: Location
  discountCodes: [String!]! paymentGatewayNames: [String!]!
  subtotalPriceSet: MoneyBag totalPriceSet: MoneyBag! totalTaxSet: MoneyBag
  totalDiscountsSet: MoneyBag totalShippingPriceSet: MoneyBag! totalTipReceivedSet: MoneyBag!
  totalRefundedSet: MoneyBag! totalReceivedSet: MoneyBag! currentTotalPriceSet: MoneyBag!
  netPaymentSet: MoneyBag! taxLines: [TaxLine!]!
  lineItems(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): LineItemConnection!
  shippingLines(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    includeRemovals: Boolean = false
  ): ShippingLineConnection!
  discountApplications(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): DiscountApplicationConnection!
  refunds(first: Int): [Refund!]!
  transactions(first: Int): [OrderTransaction!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type ShopifyPaymentsPayoutSummary {
  chargesGross: MoneyV2! chargesFee: MoneyV2! refundsFeeGross: MoneyV2! refundsFee: MoneyV2!
  adjustmentsGross: MoneyV2! adjustmentsFee: MoneyV2! reservedFundsGross: MoneyV2!
  reservedFundsFee: MoneyV2! retriedPayoutsGross: MoneyV2! retriedPayoutsFee: MoneyV2!
  advanceGross: MoneyV2! advanceFees: MoneyV2!
}
type ShopifyPaymentsPayout implements Node {
  id: ID! legacyResourceId: UnsignedInt64! issuedAt: DateTime! net: MoneyV2!
  status: ShopifyPaymentsPayoutStatus! transactionType: ShopifyPaymentsPayoutTransactionType!
  summary: ShopifyPaymentsPayoutSummary!
}
type ShopifyPaymentsPayoutEdge { cursor: String! node: ShopifyPaymentsPayout! }
type ShopifyPaymentsPayoutConnection {
  edges: [ShopifyPaymentsPayoutEdge!]! nodes: [ShopifyPaymentsPayout!]! pageInfo: PageInfo!
}
type ShopifyPaymentsAssociatedOrder { id: ID! name: String! }
type ShopifyPaymentsBalanceTransactionAssociatedPayout {
  id: ID status: ShopifyPaymentsBalanceTransactionPayoutStatus
}
type ShopifyPaymentsBalanceTransaction implements Node {
  id: ID! type: ShopifyPaymentsTransactionType! test: Boolean! amount: MoneyV2! fee: MoneyV2!
  net: MoneyV2! transactionDate: DateTime! sourceType: ShopifyPaymentsSourceType
  sourceId: BigInt sourceOrderTransactionId: BigInt associatedOrder: ShopifyPaymentsAssociatedOrder
  associatedPayout: ShopifyPaymentsBalanceTransactionAssociatedPayout! adjustmentReason: String
}
type ShopifyPaymentsBalanceTransactionEdge { cursor: String! node:
  ShopifyPaymentsBalanceTransaction! }
type ShopifyPaymentsBalanceTransactionConnection {
  edges: [ShopifyPaymentsBalanceTransactionEdge!]! nodes: [ShopifyPaymentsBalanceTransaction!]!
  pageInfo: PageInfo!
}
type ShopifyPaymentsAccount implements Node {
  id: ID! activated: Boolean! country: String! defaultCurrency: CurrencyCode! balance: [MoneyV2!]!
  payouts(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: PayoutSortKeys = ISSUED_AT
    query: String
    transactionType: ShopifyPaymentsPayoutTransactionType
  ): ShopifyPaymentsPayoutConnection!
  balanceTransactions(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: BalanceTransactionSortKeys = PROCESSED_AT
    query: String
    hideTransfers: Boolean = false
  ): ShopifyPaymentsBalanceTransactionConnection!
}

type ApiVersion { handle: String! displayName: String! supported: Boolean! }
type WebhookSubscription implements Node {
  id: ID! legacyResourceId: UnsignedInt64! topic: WebhookSubscriptionTopic!
  format: WebhookSubscriptionFormat! uri: String! callbackUrl: URL! apiVersion: ApiVersion!
  createdAt: DateTime! updatedAt: DateTime!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}
type UserError { field: [String!] message: String! }
input WebhookSubscriptionInput { uri: String callbackUrl: URL format: WebhookSubscriptionFormat }
type WebhookSubscriptionCreatePayload {
  webhookSubscription: WebhookSubscription userErrors: [UserError!]!
}
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  orders(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: OrderSortKeys = PROCESSED_AT
    query: String
  ): OrderConnection!
  customer(id: ID!): Customer
  customers(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: CustomerSortKeys = ID
    query: String
  ): CustomerConnection!
  product(id: ID!): Product
  products(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: ProductSortKeys = ID
    query: String
  ): ProductConnection!
  location(id: ID): Location
  locations(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: LocationSortKeys = NAME
    query: String
    includeInactive: Boolean = false
  ): LocationConnection!
  shopifyPaymentsAccount: ShopifyPaymentsAccount
  webhookSubscriptions(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    topics: [WebhookSubscriptionTopic!]
  ): WebhookSubscriptionConnection!
}

type Mutation {
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!
    webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}

schema { query: QueryRoot mutation: Mutation }
"""


def build_admin_schema() -> GraphQLSchema:
    """The sandbox's GraphQL Admin schema."""
    return build_schema(SDL)

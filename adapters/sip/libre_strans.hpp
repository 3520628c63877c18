#pragma once
// libre server transactions: leaving the merged-request index once answered
// (adapters/sip/libre_strans.cpp).

struct sip_strans;

namespace parley::adapters::sip {

// Takes `st` out of libre's merged-request index (RFC 3261 §8.2.2.2) and leaves it in the
// retransmission index. Call it just before the final response: a transaction the TU has
// answered is no longer "ongoing". false (nothing changed) when the transaction does not
// have libre 1.1.0's layout.
bool strans_leave_merge_index(sip_strans* st);

}  // namespace parley::adapters::sip

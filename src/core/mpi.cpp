// The MPI context: initialisation under a launcher, and collectives that are identities when serial.
#include "core/mpi.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <thread>
#include <utility>

#include "core/error.hpp"
#include "core/log.hpp"

// LeakSanitizer's hook: a process started by an MPI launcher skips the leak check at exit. Open MPI
// unloads its components (MPI-IO, collectives, transports) in MPI_Finalize, so what they keep is then
// reported from "<unknown module>" and no suppression can name it. Serial runs, which cover the same
// code of ours, are still checked. CLIMSEG_LSAN_MPI=1 checks launched processes too.
extern "C" int __lsan_is_turned_off() {
  const char* force = std::getenv("CLIMSEG_LSAN_MPI");
  if (force != nullptr && force[0] == '1') return 0;
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ? 1 : 0;
}

namespace climseg {
namespace {
bool g_mpi_active = false;

// MPI counts are int; large buffers go in pieces.
template <class F>
void in_chunks(int64_t n, F&& f) {
  const int64_t max_chunk = std::numeric_limits<int>::max() / 2;
  for (int64_t off = 0; off < n; off += max_chunk) f(off, static_cast<int>(std::min(max_chunk, n - off)));
}

// Waiting ranks sleep between polls instead of spinning in MPI.
void nap() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

void wait_sleeping(MPI_Request& req) {
  int done = 0;
  while (true) {
    check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "test");
    if (done) return;
    nap();
  }
}
}  // namespace

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len)));
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized != 0 && finalized == 0;
}

bool MpiSession::launched_by_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MV2_COMM_WORLD_RANK"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

bool MpiSession::active() { return g_mpi_active; }

MpiSession::MpiSession(int* argc, char*** argv, bool force) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    g_mpi_active = true;
    return;
  }
  if (!force && !launched_by_launcher()) return;
  int provided = 0;
  // Ranks call MPI from the main thread; helper threads (prefetch) never do.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  owns_ = true;
  g_mpi_active = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Comm w = Comm::world();
  log::set_rank(w.rank(), w.size());
}

MpiSession::~MpiSession() {
  if (owns_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
    g_mpi_active = false;
  }
}

Comm::Comm(MPI_Comm c) : comm_(c) {
  if (c != MPI_COMM_NULL) {
    MPI_Comm_rank(c, &rank_);
    MPI_Comm_size(c, &size_);
  }
}

Comm Comm::world() { return g_mpi_active ? Comm(MPI_COMM_WORLD) : Comm(); }
Comm Comm::self() { return g_mpi_active ? Comm(MPI_COMM_SELF) : Comm(); }

void Comm::barrier() const {
  if (is_mpi()) check_mpi(MPI_Barrier(comm_), "barrier");
}

void Comm::allreduce_sum(double* data, int64_t n) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_DOUBLE, MPI_SUM, comm_), "allreduce");
  });
}
void Comm::allreduce_sum(float* data, int64_t n) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, comm_), "allreduce");
  });
}
void Comm::allreduce_sum(int64_t* data, int64_t n) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_INT64_T, MPI_SUM, comm_), "allreduce");
  });
}
void Comm::allreduce_max(double* data, int64_t n) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_DOUBLE, MPI_MAX, comm_), "allreduce");
  });
}
void Comm::allreduce_min(double* data, int64_t n) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_DOUBLE, MPI_MIN, comm_), "allreduce");
  });
}
double Comm::sum(double v) const {
  allreduce_sum(&v, 1);
  return v;
}
int64_t Comm::sum(int64_t v) const {
  allreduce_sum(&v, 1);
  return v;
}
double Comm::max(double v) const {
  allreduce_max(&v, 1);
  return v;
}
double Comm::min(double v) const {
  allreduce_min(&v, 1);
  return v;
}
bool Comm::any(bool flag) const { return max(flag ? 1.0 : 0.0) > 0.5; }

void Comm::broadcast(void* data, int64_t bytes, int root) const {
  if (!is_mpi() || size_ == 1) return;
  in_chunks(bytes, [&](int64_t off, int count) {
    check_mpi(MPI_Bcast(static_cast<char*>(data) + off, count, MPI_BYTE, root, comm_), "broadcast");
  });
}

void Comm::broadcast(std::string& s, int root) const {
  if (!is_mpi() || size_ == 1) return;
  int64_t n = static_cast<int64_t>(s.size());
  broadcast(&n, sizeof n, root);
  s.resize(static_cast<size_t>(n));
  broadcast(s.data(), n, root);
}

std::vector<std::string> Comm::allgather(const std::string& mine) const {
  if (!is_mpi() || size_ == 1) return {mine};
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
  check_mpi(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_), "allgather");
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[static_cast<size_t>(r)] = total;
    total += lens[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check_mpi(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, comm_),
            "allgatherv");
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r)
    out.push_back(all.substr(static_cast<size_t>(displs[static_cast<size_t>(r)]),
                             static_cast<size_t>(lens[static_cast<size_t>(r)])));
  return out;
}

void Comm::abort(int code, const std::string& message) const {
  std::string line = size_ > 1 ? fmt::format("climseg: error: [rank {}/{}] {}\n", rank_, size_, message)
                               : fmt::format("climseg: error: {}\n", message);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  if (is_mpi()) MPI_Abort(comm_ == MPI_COMM_SELF ? MPI_COMM_WORLD : comm_, code);
  std::_Exit(code);
}

int Comm::probe(int source, int tag) const {
  int flag = 0;
  MPI_Status st;
  check_mpi(MPI_Iprobe(source == kAnySource ? MPI_ANY_SOURCE : source, tag, comm_, &flag, &st), "iprobe");
  return flag ? st.MPI_SOURCE : -1;
}

std::string Comm::recv_string(int source, int tag, int* from) const {
  MPI_Status st;
  int flag = 0;
  while (true) {
    check_mpi(MPI_Iprobe(source == kAnySource ? MPI_ANY_SOURCE : source, tag, comm_, &flag, &st), "iprobe");
    if (flag) break;
    nap();
  }
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string s(static_cast<size_t>(n), '\0');
  check_mpi(MPI_Recv(s.data(), n, MPI_CHAR, st.MPI_SOURCE, tag, comm_, MPI_STATUS_IGNORE), "recv");
  if (from) *from = st.MPI_SOURCE;
  return s;
}

void Comm::send_string(int dest, int tag, const std::string& s) const {
  check_mpi(MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, dest, tag, comm_), "send");
}

void Comm::broadcast_sleeping(std::string& s) const {
  if (!is_mpi() || size_ == 1) return;
  int64_t n = static_cast<int64_t>(s.size());
  MPI_Request req;
  check_mpi(MPI_Ibcast(&n, 1, MPI_INT64_T, 0, comm_, &req), "ibcast");
  wait_sleeping(req);
  s.resize(static_cast<size_t>(n));
  check_mpi(MPI_Ibcast(s.data(), static_cast<int>(n), MPI_CHAR, 0, comm_, &req), "ibcast");
  wait_sleeping(req);
}

void Comm::barrier_sleeping() const {
  if (!is_mpi() || size_ == 1) return;
  MPI_Request req;
  check_mpi(MPI_Ibarrier(comm_, &req), "ibarrier");
  wait_sleeping(req);
}

OwnedComm Comm::split(int color, int key) const {
  if (!is_mpi()) return OwnedComm();
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(comm_, color, key, &out), "comm_split");
  return OwnedComm(out);
}

OwnedComm Comm::dup() const {
  if (!is_mpi()) return OwnedComm();
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(comm_, &out), "comm_dup");
  return OwnedComm(out);
}

OwnedComm::OwnedComm(MPI_Comm c) : comm_(c) {
  // Errors come back as codes (turned into exceptions by check_mpi), as on MPI_COMM_WORLD.
  if (c != MPI_COMM_NULL) MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
}

OwnedComm::~OwnedComm() { reset(); }

OwnedComm::OwnedComm(OwnedComm&& o) noexcept : comm_(std::exchange(o.comm_, Comm())) {}

OwnedComm& OwnedComm::operator=(OwnedComm&& o) noexcept {
  if (this != &o) {
    reset();
    comm_ = std::exchange(o.comm_, Comm());
  }
  return *this;
}

void OwnedComm::reset() {
  if (comm_.comm_ != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm_.comm_);
  comm_ = Comm();
}

}  // namespace climseg

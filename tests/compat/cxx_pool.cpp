// A fixed thread pool (std::thread workers, a std::mutex-protected task
// queue, std::condition_variable, std::packaged_task futures) computes the
// sum of the primes below 2,000,000 in chunks; the result is compared with
// a single-threaded computation and printed.
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "testutil.h"

class Pool
{
      public:
	explicit Pool(unsigned n)
	{
		for (unsigned i = 0; i < n; i++)
			workers_.emplace_back([this] { run(); });
	}
	~Pool()
	{
		shutdown();
	}
	// Lets the workers finish the queue and joins them.
	void shutdown()
	{
		{
			std::lock_guard<std::mutex> g(m_);
			stop_ = true;
		}
		cv_.notify_all();
		for (auto &w : workers_)
			w.join();
		workers_.clear();
	}
	template <class F> auto submit(F f) -> std::future<decltype(f())>
	{
		auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
		auto fut = task->get_future();
		{
			std::lock_guard<std::mutex> g(m_);
			queue_.emplace_back([task] { (*task)(); });
		}
		cv_.notify_one();
		return fut;
	}
	long tasks_run()
	{
		std::lock_guard<std::mutex> g(m_);
		return done_;
	}

      private:
	void run()
	{
		for (;;) {
			std::function<void()> job;
			{
				std::unique_lock<std::mutex> lk(m_);
				cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
				if (queue_.empty())
					return;
				job = std::move(queue_.front());
				queue_.pop_front();
			}
			job();
			std::lock_guard<std::mutex> g(m_);
			done_++;
		}
	}
	std::mutex m_;
	std::condition_variable cv_;
	std::deque<std::function<void()>> queue_;
	std::vector<std::thread> workers_;
	bool stop_ = false;
	long done_ = 0;
};

static const long LIMIT = 2000000;
static std::vector<int> small_primes; // primes up to sqrt(LIMIT)

static bool is_prime(long n)
{
	if (n < 2)
		return false;
	for (int p : small_primes) {
		if ((long)p * p > n)
			break;
		if (n % p == 0)
			return false;
	}
	return true;
}

struct Chunk {
	long sum;
	long count;
};

static Chunk sum_range(long lo, long hi)
{
	Chunk c{0, 0};
	for (long n = lo; n < hi; n++)
		if (is_prime(n)) {
			c.sum += n;
			c.count++;
		}
	return c;
}

int main()
{
	for (int n = 2; (long)n * n < LIMIT + 2 * n; n++) {
		bool prime = true;
		for (int p : small_primes)
			if (n % p == 0) {
				prime = false;
				break;
			}
		if (prime)
			small_primes.push_back(n);
	}

	const int nchunks = 200;
	const long step = LIMIT / nchunks;
	long sum = 0, count = 0;
	{
		Pool pool(4);
		std::vector<std::future<Chunk>> parts;
		for (int i = 0; i < nchunks; i++) {
			long lo = i * step, hi = i == nchunks - 1 ? LIMIT : lo + step;
			parts.push_back(pool.submit([lo, hi] { return sum_range(lo, hi); }));
		}
		for (auto &f : parts) {
			Chunk c = f.get();
			sum += c.sum;
			count += c.count;
		}
		pool.shutdown();
		CHECK_EQ(pool.tasks_run(), nchunks);
	}

	// Cross-check with a sieve in this thread.
	std::vector<bool> composite(LIMIT, false);
	long want = 0, want_count = 0;
	for (long n = 2; n < LIMIT; n++) {
		if (composite[n])
			continue;
		want += n;
		want_count++;
		for (long k = n * n; k < LIMIT; k += n)
			composite[k] = true;
	}
	CHECK_EQ(sum, want);
	CHECK_EQ(count, want_count);
	CHECK_EQ(sum, 142913828922L);
	printf("thread pool: 4 workers, %d chunks, %ld primes below %ld, sum %ld\n", nchunks, count,
	       LIMIT, sum);
	return 0;
}

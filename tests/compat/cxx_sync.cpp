// The C++ standard thread library on top of pthreads: std::thread,
// std::mutex with lock_guard/unique_lock, std::condition_variable (wait with
// a predicate, wait_for timing out, notify_all), std::timed_mutex,
// std::call_once, std::async futures (values and exceptions),
// std::this_thread::sleep_for. (thread_local and exceptions: cxx_tls.cpp.)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "testutil.h"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

static void threads_and_mutex()
{
	std::mutex m;
	long counter = 0;
	std::vector<std::thread> ts;
	for (int i = 0; i < 8; i++)
		ts.emplace_back([&] {
			for (int k = 0; k < 20000; k++) {
				if (k % 2) {
					std::lock_guard<std::mutex> g(m);
					counter++;
				} else {
					std::unique_lock<std::mutex> u(m);
					counter++;
					u.unlock();
					u.lock();
				}
			}
		});
	for (auto &t : ts) {
		CHECK(t.joinable());
		t.join();
		CHECK(!t.joinable());
	}
	CHECK_EQ(counter, 8 * 20000);
	printf("std::thread + std::mutex: counter %ld\n", counter);

	std::thread::id main_id = std::this_thread::get_id();
	std::thread::id seen;
	std::thread t([&] { seen = std::this_thread::get_id(); });
	std::thread::id tid = t.get_id();
	t.join();
	CHECK(seen == tid);
	CHECK(seen != main_id);
	printf("std::this_thread::get_id: ok\n");
}

static void condition_variables()
{
	std::mutex m;
	std::condition_variable cv;
	int ready = 0;
	bool go = false;
	std::vector<std::thread> ts;
	std::atomic<int> woke{0};
	for (int i = 0; i < 6; i++)
		ts.emplace_back([&] {
			std::unique_lock<std::mutex> lk(m);
			ready++;
			cv.notify_all();
			cv.wait(lk, [&] { return go; });
			woke++;
		});
	{
		std::unique_lock<std::mutex> lk(m);
		cv.wait(lk, [&] { return ready == 6; });
		go = true;
	}
	cv.notify_all();
	for (auto &t : ts)
		t.join();
	CHECK_EQ(woke.load(), 6);
	printf("condition_variable: notify_all woke %d predicate waiters\n", woke.load());

	// wait_for times out and takes at least as long as asked.
	std::unique_lock<std::mutex> lk(m);
	auto t0 = steady::now();
	bool got = cv.wait_for(lk, 50ms, [] { return false; });
	CHECK(!got);
	CHECK(steady::now() - t0 >= 50ms);
	auto deadline = steady::now() + 20ms;
	while (cv.wait_until(lk, deadline) != std::cv_status::timeout)
		;
	CHECK(steady::now() >= deadline);
	lk.unlock();
	printf("condition_variable::wait_for: timed out after >= 50 ms\n");

	// wait_for woken before its timeout.
	bool flag = false;
	std::thread setter([&] {
		std::this_thread::sleep_for(20ms);
		std::lock_guard<std::mutex> g(m);
		flag = true;
		cv.notify_one();
	});
	lk.lock();
	CHECK(cv.wait_for(lk, 20s, [&] { return flag; }));
	lk.unlock();
	setter.join();
	printf("condition_variable::wait_for: woken before the timeout\n");
}

static void timed_mutex()
{
	std::timed_mutex tm;
	std::mutex m;
	std::condition_variable cv;
	bool held = false, release = false;
	std::thread owner([&] {
		tm.lock();
		std::unique_lock<std::mutex> lk(m);
		held = true;
		cv.notify_all();
		cv.wait(lk, [&] { return release; });
		tm.unlock();
	});
	{
		std::unique_lock<std::mutex> lk(m);
		cv.wait(lk, [&] { return held; });
	}
	CHECK(!tm.try_lock());
	auto t0 = steady::now();
	CHECK(!tm.try_lock_for(60ms));
	CHECK(steady::now() - t0 >= 60ms);
	CHECK(!tm.try_lock_until(steady::now() + 10ms));
	{
		std::lock_guard<std::mutex> g(m);
		release = true;
	}
	cv.notify_all();
	CHECK(tm.try_lock_for(20s));
	tm.unlock();
	owner.join();
	printf("timed_mutex: try_lock_for timed out after >= 60 ms, then acquired\n");
}

static std::once_flag once;
static int once_runs;

static void call_once_and_sleep()
{
	std::vector<std::thread> ts;
	for (int i = 0; i < 8; i++)
		ts.emplace_back([] {
			std::call_once(once, [] {
				std::this_thread::sleep_for(10ms);
				once_runs++;
			});
			CHECK_EQ(once_runs, 1);
		});
	for (auto &t : ts)
		t.join();
	printf("call_once: ran once for 8 threads\n");

	auto t0 = steady::now();
	std::this_thread::sleep_for(30ms);
	CHECK(steady::now() - t0 >= 30ms);
	std::this_thread::sleep_until(steady::now() + 10ms);
	std::this_thread::yield();
	printf("sleep_for/sleep_until/yield: ok\n");
}

static long fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void futures()
{
	std::vector<std::future<long>> fs;
	for (int i = 0; i < 12; i++)
		fs.push_back(std::async(std::launch::async, [i] { return fib(18 + i % 5); }));
	long total = 0;
	for (auto &f : fs)
		total += f.get();
	CHECK_EQ(total, 3 * (2584 + 4181) + 2 * (6765 + 10946 + 17711));
	printf("std::async: 12 futures, total %ld\n", total);

	auto slow = std::async(std::launch::async, [] {
		std::this_thread::sleep_for(50ms);
		return std::string("late");
	});
	CHECK(slow.wait_for(1ms) == std::future_status::timeout);
	CHECK(slow.get() == "late");

	std::promise<int> p;
	std::future<int> pf = p.get_future();
	std::thread pt([&] {
		std::this_thread::sleep_for(5ms);
		p.set_value(41);
	});
	CHECK_EQ(pf.get() + 1, 42);
	pt.join();

	auto thrower = std::async(std::launch::async,
				  []() -> int { throw std::runtime_error("from another thread"); });
	std::string what;
	try {
		thrower.get();
	} catch (const std::runtime_error &e) {
		what = e.what();
	}
	CHECK(what == "from another thread");
	printf("futures: wait_for timeout, promise, exception propagated\n");
}

int main()
{
	threads_and_mutex();
	condition_variables();
	timed_mutex();
	call_once_and_sleep();
	futures();
	return 0;
}

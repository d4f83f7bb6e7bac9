// One object per Node environment (the addon may be loaded by several worker_threads): a table keyed by
// napi_env, filled at module init or on first use, emptied by the env's cleanup hook (which deletes the object).
// Kept here rather than in the env's instance data, which node-addon-api allows only one of per addon.
#pragma once

#include <napi.h>

#include <map>
#include <mutex>

namespace tn {

template <typename T>
class PerEnv {
 public:
  // The env's object, or nullptr when none was set.
  T* Find(napi_env env) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = table_.find(env);
    return it == table_.end() ? nullptr : it->second;
  }

  // The env's object, created (default-constructed) on first use.
  T& Get(Napi::Env env) {
    if (T* t = Find(env)) return *t;
    T* t = new T();
    Set(env, t);
    return *t;
  }

  // Takes ownership of `value` for `env`; deleted when the env is torn down.
  void Set(Napi::Env env, T* value) {
    {
      std::lock_guard<std::mutex> lock(m_);
      table_[static_cast<napi_env>(env)] = value;
    }
    napi_env raw = env;
    env.AddCleanupHook([this, raw, value] {
      {
        std::lock_guard<std::mutex> lock(m_);
        table_.erase(raw);
      }
      delete value;
    });
  }

 private:
  std::mutex m_;
  std::map<napi_env, T*> table_;
};

// A process-lifetime table (never destroyed, so that cleanup hooks running late never see a dead table).
template <typename T>
PerEnv<T>& PerEnvTable() {
  static auto* t = new PerEnv<T>();
  return *t;
}

}  // namespace tn
